/**
 * Expiration with concatenation and expireCompleted (spec: expiration): a part that a live unfinished final
 * still needs never expires; a completed upload that will expire says when; a GET never removes anything.
 */
import { expect, it } from 'vitest'
import { MemoryStore, type DataStore, type Upload } from 'tus-middleware'
import { randomData, sha256 } from '../helpers/bytes.js'
import { useCleanup } from '../helpers/cleanup.js'
import { createUpload, head, patch, send } from '../helpers/http.js'
import { sleep } from '../helpers/raw.js'
import { startServer, tempFileStore, type TestServer } from '../helpers/server.js'
import { idOf, TUS } from '../helpers/tus.js'

const defer = useCleanup()
const EXPIRE = 400

async function start(store: DataStore, options: Record<string, unknown> = {}): Promise<TestServer> {
  const server = await startServer({ store, expireAfter: EXPIRE, cleanupInterval: 0, ...options })
  defer(server.close, () => server.uploads.close())
  return server
}

for (const [name, make] of [['FileStore', async () => (await tempFileStore(defer)).store], ['MemoryStore', async () => new MemoryStore()]] as const) {
  it(`keeps a completed part that an active unfinished final still needs, with expireCompleted (${name})`, async () => {
    const store = await make()
    const server = await start(store, { expireCompleted: true })
    const completed: string[] = []
    server.uploads.on('completed', (u) => completed.push(u.id))
    const dataA = randomData(500)
    const dataB = randomData(40)
    const a = await createUpload(server.url, { 'Upload-Length': dataA.length, 'Upload-Concat': 'partial' })
    expect((await patch(a, 0, dataA)).status).toBe(204)
    const b = await createUpload(server.url, { 'Upload-Length': dataB.length, 'Upload-Concat': 'partial' })
    const created = await send('POST', server.url, { headers: { ...TUS, 'Upload-Concat': `final;${new URL(a).pathname} ${new URL(b).pathname}` } })
    expect(created.status).toBe(201)
    const final = new URL(created.header('location'), server.url).href
    // Part b keeps receiving bytes, a little at a time, well past the time part a expires on its own.
    for (let i = 0; i < 3; i++) {
      await sleep(EXPIRE / 2)
      expect((await patch(b, i * 10, dataB.subarray(i * 10, i * 10 + 5))).status).toBe(204)
      expect((await patch(b, i * 10 + 5, dataB.subarray(i * 10 + 5, i * 10 + 10))).status).toBe(204)
      const removed = await server.uploads.cleanup()
      expect(removed.map((u: Upload) => u.id)).not.toContain(idOf(a))
    }
    expect((await head(a)).status).toBe(200)
    expect((await patch(b, 30, dataB.subarray(30))).status).toBe(204)
    await expect.poll(() => completed).toEqual([idOf(final)])
    expect(sha256((await send('GET', final)).body)).toBe(sha256(Buffer.concat([dataA, dataB])))
    // Once the final is complete, the part is no longer needed and expires as any completed upload.
    await sleep(EXPIRE + 50)
    const removed = (await server.uploads.cleanup()).map((u: Upload) => u.id)
    expect(removed).toContain(idOf(a))
  })

  it(`sends Upload-Expires for a completed upload that will expire (expireCompleted) (${name})`, async () => {
    const server = await start(await make(), { expireCompleted: true, expireAfter: 60_000 })
    const url = await createUpload(server.url, { 'Upload-Length': 3 })
    const done = await patch(url, 0, 'abc')
    expect(done.status).toBe(204)
    expect(Date.parse(done.header('upload-expires'))).toBeGreaterThan(Date.now())
    expect(Date.parse((await head(url)).header('upload-expires'))).toBeGreaterThan(Date.now())
  })

  it(`never removes an expired unfinished final on GET, nor reports it expired (${name})`, async () => {
    const store = await make()
    const server = await start(store)
    const expired: string[] = []
    server.uploads.on('expired', (u) => expired.push(u.id))
    const a = await createUpload(server.url, { 'Upload-Length': 5, 'Upload-Concat': 'partial' })
    const created = await send('POST', server.url, { headers: { ...TUS, 'Upload-Concat': `final;${new URL(a).pathname}` } })
    const final = new URL(created.header('location'), server.url).href
    await sleep(EXPIRE + 100)
    expect((await send('GET', final)).status).toBe(410)
    expect(await store.get(idOf(final))).toBeDefined()
    expect(expired).toEqual([])
    // A request that holds the lock (a HEAD) removes it.
    expect((await head(final)).status).toBe(410)
    expect(await store.get(idOf(final))).toBeUndefined()
    expect(expired).toEqual([idOf(final)])
  })
}
