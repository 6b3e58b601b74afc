import { describe, expect, it } from 'vitest'
import { FileStore, MemoryStore, tus } from 'tus-middleware'
import { startServer } from '../helpers/server.js'

describe('tus(options) validation', () => {
  it.each([
    [{ maxSize: -1 }, 'maxSize'],
    [{ maxSize: 1.5 }, 'maxSize'],
    [{ maxSize: '100' }, 'maxSize'],
    [{ maxMetadataSize: -5 }, 'maxMetadataSize'],
    [{ progressInterval: 'fast' }, 'progressInterval'],
    [{ lockTimeout: 0 }, 'lockTimeout'],
    [{ bodyIdleTimeout: NaN }, 'bodyIdleTimeout'],
    [{ path: 'files' }, 'path'],
    [{ relativeLocation: 'yes' }, 'relativeLocation'],
    [{ onCreate: 'nope' }, 'onCreate'],
    [{ authorize: {} }, 'authorize'],
    [{ onComplete: 1 }, 'onComplete'],
    [{ locker: {} }, 'locker'],
    [{ maxsize: 10 }, 'maxsize'],
    [{ store: {} }, 'store'],
  ])('throws a TypeError naming the option for %j', (options, name) => {
    expect(() => tus(options as never)).toThrow(TypeError)
    expect(() => tus(options as never)).toThrow(name)
  })

  it('refuses a store that claims a capability without the method behind it', () => {
    const store = new MemoryStore()
    const broken = Object.assign(Object.create(store), { capabilities: ['termination', 'read'], remove: undefined })
    expect(() => tus({ store: broken })).toThrow(/termination.*remove/)
    const unknown = Object.assign(Object.create(store), { capabilities: ['teleport'] })
    expect(() => tus({ store: unknown })).toThrow(/teleport/)
  })

  it('never mutates the caller\'s options object', () => {
    const options = Object.freeze({ store: new MemoryStore(), maxSize: 10, path: '/up/' })
    expect(() => tus(options)).not.toThrow()
    expect(options).toEqual({ store: options.store, maxSize: 10, path: '/up/' })
  })

  it('defaults to a FileStore in ./uploads, created lazily', () => {
    const uploads = tus()
    expect(uploads.store).toBeInstanceOf(FileStore)
    expect((uploads.store as FileStore).directory.endsWith('uploads')).toBe(true)
  })

  it('returns a named handler with arity 3', () => {
    const uploads = tus({ store: new MemoryStore() })
    expect(uploads.name).toBe('tusMiddleware')
    expect(uploads.length).toBe(3)
  })

  it('does not advertise termination for a store without it', async () => {
    const base = new MemoryStore()
    const store = {
      capabilities: [] as const,
      create: base.create.bind(base),
      get: base.get.bind(base),
      write: base.write.bind(base),
      commit: base.commit.bind(base),
      discard: base.discard.bind(base),
      update: base.update.bind(base),
    }
    const uploads = tus({ store })
    const server = await startServer(uploads)
    try {
      const res = await fetch(`${server.url}`, { method: 'OPTIONS' })
      // checksums are the middleware's own work (trailers included); concatenation needs its capability.
      expect(res.headers.get('tus-extension')).toBe('creation,creation-with-upload,creation-defer-length,checksum,checksum-trailer')
      const created = await fetch(server.url, { method: 'POST', headers: { 'Tus-Resumable': '1.0.0', 'Upload-Length': '1' } })
      const del = await fetch(created.headers.get('location')!, { method: 'DELETE', headers: { 'Tus-Resumable': '1.0.0' } })
      expect(del.status).toBe(405)
    } finally {
      await server.close()
    }
  })
})
