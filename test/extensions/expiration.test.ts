import { readdir } from 'node:fs/promises'
import { describe, expect, it } from 'vitest'
import { MemoryStore, tus, type DataStore, type Upload } from 'tus-middleware'
import { randomData } from '../helpers/bytes.js'
import { useCleanup } from '../helpers/cleanup.js'
import { createUpload, head, patch, send } from '../helpers/http.js'
import { sleep } from '../helpers/raw.js'
import { startServer, tempFileStore, type TestServer } from '../helpers/server.js'
import { idOf, TUS } from '../helpers/tus.js'

const defer = useCleanup()
const EXPIRE = 500

async function start(store: DataStore, options: Record<string, unknown> = {}): Promise<TestServer> {
  const server = await startServer({ store, expireAfter: EXPIRE, cleanupInterval: 0, ...options })
  defer(server.close, () => server.uploads.close())
  return server
}

function expectHttpDate(value: string, near: number): void {
  expect(value).toMatch(/^[A-Z][a-z]{2}, \d{2} [A-Z][a-z]{2} \d{4} \d{2}:\d{2}:\d{2} GMT$/)
  expect(Math.abs(Date.parse(value) - near)).toBeLessThan(1500)
}

for (const [name, make] of [['FileStore', async () => (await tempFileStore(defer)).store], ['MemoryStore', async () => new MemoryStore()]] as const) {
  describe(`expiration (${name})`, () => {
    it('advertises expiration and sends Upload-Expires on POST, PATCH and HEAD of unfinished uploads', async () => {
      const server = await start(await make())
      expect((await send('OPTIONS', server.url)).header('tus-extension').split(',')).toContain('expiration')
      const post = await send('POST', server.url, { headers: { ...TUS, 'Upload-Length': 10 } })
      expectHttpDate(post.header('upload-expires'), Date.now() + EXPIRE)
      const url = new URL(post.header('location'), server.url).href
      const p = await patch(url, 0, 'abcde')
      expectHttpDate(p.header('upload-expires'), Date.now() + EXPIRE)
      expectHttpDate((await head(url)).header('upload-expires'), Date.now() + EXPIRE)
      // A finished upload does not expire: no header.
      const done = await patch(url, 5, 'fghij')
      expect(done.status).toBe(204)
      expect(done.header('upload-expires')).toBe('')
      expect((await head(url)).header('upload-expires')).toBe('')
    })

    it('measures inactivity from the last write, not from creation', async () => {
      const server = await start(await make())
      const url = await createUpload(server.url, { 'Upload-Length': 100 })
      for (let i = 0; i < 4; i++) {
        await sleep(EXPIRE / 3)
        expect((await patch(url, i, 'x')).status).toBe(204)
      }
      expect((await head(url)).status).toBe(200)
    })

    it('answers 410 for an expired upload, removes it, and fires expired', async () => {
      const store = await make()
      const server = await start(store)
      const expired: Upload[] = []
      server.uploads.on('expired', (u) => expired.push(u))
      const url = await createUpload(server.url, { 'Upload-Length': 100 })
      expect((await patch(url, 0, randomData(10))).status).toBe(204)
      await sleep(EXPIRE + 50)
      expect((await patch(url, 10, 'abc')).status).toBe(410)
      expect(await store.get(idOf(url))).toBeUndefined()
      expect(expired.map((u) => u.id)).toEqual([idOf(url)])
      expect((await head(url)).status).toBe(404)
    })

    it('cleanup() removes expired unfinished uploads only, returning them', async () => {
      const store = await make()
      const server = await start(store)
      const expired: string[] = []
      server.uploads.on('expired', (u) => expired.push(u.id))
      const stale = await createUpload(server.url, { 'Upload-Length': 100 })
      const finished = await createUpload(server.url, { 'Upload-Length': 3 })
      expect((await patch(finished, 0, 'abc')).status).toBe(204)
      await sleep(EXPIRE + 50)
      const fresh = await createUpload(server.url, { 'Upload-Length': 100 })
      const removed = await server.uploads.cleanup()
      expect(removed.map((u) => u.id)).toEqual([idOf(stale)])
      expect(expired).toEqual([idOf(stale)])
      expect(await store.get(idOf(stale))).toBeUndefined()
      expect(await store.get(idOf(finished))).toBeDefined()
      expect(await store.get(idOf(fresh))).toBeDefined()
      expect(await server.uploads.cleanup()).toEqual([])
    })

    it('lets finished uploads expire when expireCompleted is set', async () => {
      const store = await make()
      const server = await start(store, { expireCompleted: true })
      const url = await createUpload(server.url, { 'Upload-Length': 3 })
      expect((await patch(url, 0, 'abc')).status).toBe(204)
      await sleep(EXPIRE + 50)
      expect((await server.uploads.cleanup()).map((u) => u.id)).toEqual([idOf(url)])
      expect(await store.get(idOf(url))).toBeUndefined()
    })

    it('keeps an unfinished final upload alive while its partials are active', async () => {
      const server = await start(await make())
      const part = await createUpload(server.url, { 'Upload-Length': 100, 'Upload-Concat': 'partial' })
      const res = await send('POST', server.url, { headers: { ...TUS, 'Upload-Concat': `final;${part}` } })
      const final = new URL(res.header('location'), server.url).href
      for (let i = 0; i < 3; i++) {
        await sleep(EXPIRE / 3)
        expect((await patch(part, i, 'x')).status).toBe(204)
      }
      expect((await head(final)).status).toBe(200)
      expect(await server.uploads.cleanup()).toEqual([])
      await sleep(EXPIRE + 50)
      expect((await head(final)).status).toBe(410)
    })
  })
}

describe('expiration: background cleanup and options', () => {
  it('removes expired uploads on its own, with FileStore leaving no files', async () => {
    const { store, dir } = await tempFileStore(defer)
    const server = await start(store, { cleanupInterval: 100 })
    const gone = new Promise<Upload>((resolve) => server.uploads.once('expired', resolve))
    const url = await createUpload(server.url, { 'Upload-Length': 100 })
    expect((await gone).id).toBe(idOf(url))
    expect(await readdir(dir)).toEqual([])
  })

  it('does not advertise expiration without expireAfter, and cleanup() is a no-op', async () => {
    const server = await startServer({ store: new MemoryStore() })
    defer(server.close)
    expect((await send('OPTIONS', server.url)).header('tus-extension').split(',')).not.toContain('expiration')
    expect(await server.uploads.cleanup()).toEqual([])
  })

  it('rejects bad expiration options with a TypeError naming them', () => {
    expect(() => tus({ store: new MemoryStore(), expireAfter: 0 })).toThrow(/expireAfter/)
    expect(() => tus({ store: new MemoryStore(), expireAfter: 1000, cleanupInterval: -1 })).toThrow(/cleanupInterval/)
    expect(() => tus({ store: new MemoryStore(), expireCompleted: 'yes' as never })).toThrow(/expireCompleted/)
    const limited = new MemoryStore()
    Object.defineProperty(limited, 'capabilities', { value: ['termination', 'read'] })
    expect(() => tus({ store: limited, expireAfter: 1000 })).toThrow(/expireAfter/)
  })
})
