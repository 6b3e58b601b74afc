/**
 * Limits with safe defaults: upload size, metadata size, concurrent uploads per process; unguessable ids
 * unless the host names them, and host-chosen ids validated.
 */
import { readdir } from 'node:fs/promises'
import { join } from 'node:path'
import { describe, expect, it } from 'vitest'
import { FileStore, MemoryStore, TusError, tus } from 'tus-middleware'
import { randomData, sha256 } from '../helpers/bytes.js'
import { useCleanup } from '../helpers/cleanup.js'
import { InstrumentedStore } from '../helpers/instrumented-store.js'
import { createUpload, headOffset, patch, patchHead, rawClient, until } from '../helpers/raw.js'
import { startServer, tempDir } from '../helpers/server.js'
import { TUS } from '../helpers/tus.js'

const defer = useCleanup()

async function serve(options: Record<string, unknown>) {
  const server = await startServer(options)
  defer(server.close)
  return server
}

describe('maxConcurrentUploads', () => {
  it('refuses a request over the limit with 503 TOO_MANY_UPLOADS and Retry-After, and admits once one ends', async () => {
    const store = new InstrumentedStore(new MemoryStore())
    const server = await serve({ store, maxConcurrentUploads: 2, bodyIdleTimeout: 0 })
    const urls = [await createUpload(server.url, 100), await createUpload(server.url, 100), await createUpload(server.url, 100)]
    const held = []
    for (const url of urls.slice(0, 2)) {
      const c = await rawClient(server.origin)
      await c.write(patchHead(new URL(url).pathname, 0, 100))
      await c.write(randomData(10))
      held.push(c)
    }
    await until(() => store.written.size === 2, 5000, 'two uploads in progress')

    const refused = await fetch(urls[2], {
      method: 'PATCH',
      headers: { ...TUS, 'Content-Type': 'application/offset+octet-stream', 'Upload-Offset': '0' },
      body: randomData(100),
    })
    expect(refused.status).toBe(503)
    expect(refused.headers.get('retry-after')).toBe('1')
    expect(await refused.text()).toMatch(/Too many uploads/)
    // A creation carrying bytes counts too; a plain creation and HEAD do not.
    const post = await fetch(server.url, {
      method: 'POST',
      headers: { ...TUS, 'Upload-Length': '5', 'Content-Type': 'application/offset+octet-stream' },
      body: 'hello',
    })
    expect(post.status).toBe(503)
    expect(await headOffset(urls[2])).toEqual({ status: 200, offset: 0 })
    expect(store.written.has(urls[2].split('/').pop()!)).toBe(false)

    held[0].socket.destroy()
    await until(async () => (await headOffset(urls[0])).offset === 10)
    const data = randomData(100)
    const admitted = await patch(urls[2], 0, data)
    expect(admitted.status).toBe(204)
    for (const c of held) c.socket.destroy()
  })

  it('defaults to 256 and must be a positive integer', () => {
    expect(() => tus({ store: new MemoryStore(), maxConcurrentUploads: 0 })).toThrow(/maxConcurrentUploads/)
    expect(() => tus({ store: new MemoryStore(), maxConcurrentUploads: 1.5 })).toThrow(/maxConcurrentUploads/)
  })

  it('a hook may refuse per its own policy with TOO_MANY_UPLOADS, which also gets Retry-After', async () => {
    const server = await serve({
      store: new MemoryStore(),
      onCreate: () => {
        throw new TusError('TOO_MANY_UPLOADS')
      },
    })
    const res = await fetch(server.url, { method: 'POST', headers: { ...TUS, 'Upload-Length': '5' } })
    expect(res.status).toBe(503)
    expect(res.headers.get('retry-after')).toBe('1')
  })
})

describe('size limits', () => {
  it('maxSize refuses a larger Upload-Length with 413 and stores nothing', async () => {
    const dir = await tempDir()
    defer(dir.remove)
    const server = await serve({ store: new FileStore({ directory: dir.path }), maxSize: 1000 })
    const res = await fetch(server.url, { method: 'POST', headers: { ...TUS, 'Upload-Length': '1001' } })
    expect(res.status).toBe(413)
    expect(await readdir(dir.path).catch(() => [])).toEqual([])
  })

  it('maxSize bounds a deferred-length upload while its bytes arrive, leaving it as it was', async () => {
    const server = await serve({ store: new MemoryStore(), maxSize: 1000 })
    const url = await createUpload(server.url, undefined)
    const first = randomData(600)
    expect((await patch(url, 0, first)).status).toBe(204)
    expect((await patch(url, 600, randomData(600))).status).toBe(413)
    expect(await headOffset(url)).toEqual({ status: 200, offset: 600 })
    const body = await (await fetch(url)).arrayBuffer()
    expect(sha256(Buffer.from(body))).toBe(sha256(first))
  })

  it('maxMetadataSize (default 4096) refuses a huge Upload-Metadata with 400', async () => {
    const server = await serve({ store: new MemoryStore() })
    const big = `name ${Buffer.from('x'.repeat(4000)).toString('base64')}`
    const res = await fetch(server.url, { method: 'POST', headers: { ...TUS, 'Upload-Length': '5', 'Upload-Metadata': big } })
    expect(res.status).toBe(400)
  })
})

describe('upload ids', () => {
  it('are 128 random bits (32 hex characters), never repeated', async () => {
    const server = await serve({ store: new MemoryStore() })
    const ids = new Set<string>()
    for (let i = 0; i < 200; i++) ids.add((await createUpload(server.url, 1)).split('/').pop()!)
    expect(ids.size).toBe(200)
    for (const id of ids) expect(id).toMatch(/^[0-9a-f]{32}$/)
    // Every hex digit shows up in every position: not a counter, not a timestamp.
    for (let pos = 0; pos < 32; pos++) expect(new Set([...ids].map((id) => id[pos])).size).toBeGreaterThan(8)
  })

  it('a host may name them; an id it names is used as is', async () => {
    const server = await serve({ store: new MemoryStore(), onCreate: () => ({ id: 'invoice-2024_07.pdf' }) })
    expect(await createUpload(server.url, 1)).toBe(`${server.url}/invoice-2024_07.pdf`)
  })

  it.each(['../escape', 'a/b', 'a\\b', '.hidden', 'nul\0byte', '', 'x'.repeat(129), 'sp ace'])(
    'a host-chosen id %j that could leave the store or the URL is refused, and nothing is written',
    async (id) => {
      const parent = await tempDir()
      defer(parent.remove)
      const directory = join(parent.path, 'store')
      const server = await serve({ store: new FileStore({ directory }), onCreate: () => ({ id }) })
      const res = await fetch(server.url, { method: 'POST', headers: { ...TUS, 'Upload-Length': '1' } })
      expect(res.status).toBe(400)
      expect(await readdir(directory).catch(() => [])).toEqual([])
      expect((await readdir(parent.path)).filter((n) => n !== 'store')).toEqual([])
    },
  )
})
