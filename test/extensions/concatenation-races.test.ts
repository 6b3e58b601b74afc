// A final upload is assembled only from parts that are really finished, exactly once, and never past maxSize.
import { createHash } from 'node:crypto'
import { afterEach, describe, expect, it } from 'vitest'
import { FileStore, MemoryStore, type DataStore, type Upload } from 'tus-middleware'
import { useCleanup } from '../helpers/cleanup.js'
import { InstrumentedStore } from '../helpers/instrumented-store.js'
import { createUpload, patchHead, rawClient, sleep } from '../helpers/raw.js'
import { startServer, tempDir, type TestServer } from '../helpers/server.js'
import { idOf, TUS } from '../helpers/tus.js'

// After hooks run last registered first: the server is closed, then what the test deferred is removed.
const defer = useCleanup()
let server: TestServer | undefined
afterEach(async () => {
  await server?.close()
  server = undefined
})

/** A part receives all its bytes in a chunked PATCH; a final is created; then the PATCH is refused. */
async function refusedLastChunk(store: DataStore, extra: Record<string, string>, tail: string) {
  const instrumented = new InstrumentedStore(store)
  server = await startServer({ store: instrumented })
  const completed: string[] = []
  server.uploads.on('completed', (u) => completed.push(u.id))
  const part = await createUpload(server.url, 10, { 'Upload-Concat': 'partial' })
  const partPath = new URL(part).pathname
  const client = await rawClient(server.origin)
  const headers = { Host: 'x', ...TUS, 'Content-Type': 'application/offset+octet-stream', 'Upload-Offset': '0', 'Transfer-Encoding': 'chunked', ...extra }
  await client.write(`PATCH ${partPath} HTTP/1.1\r\n${Object.entries(headers).map(([k, v]) => `${k}: ${v}\r\n`).join('')}\r\n`)
  await client.write(`a\r\n${'A'.repeat(10)}\r\n`)
  // All of the part's bytes reach the store (its request is still open) before the final is created; staged,
  // they do not count yet.
  await expect.poll(() => instrumented.written.get(idOf(part))).toBe(10)
  expect((await store.get(idOf(part)))?.offset).toBe(0)
  const final = await fetch(server.url, { method: 'POST', headers: { ...TUS, 'Upload-Concat': `final;${partPath}` } })
  expect(final.status).toBe(201)
  await client.write(tail)
  const res = await client.response
  const finalHead = await fetch(new URL(final.headers.get('location')!, server.url), { method: 'HEAD', headers: TUS })
  const partHead = await fetch(part, { method: 'HEAD', headers: TUS })
  return { patch: res.status, part: partHead.headers.get('upload-offset'), final: finalHead.headers.get('upload-offset'), completed: completed.length }
}

describe('concatenation races', () => {
  it('does not assemble from a part chunk that then fails its checksum (MemoryStore)', async () => {
    const wrong = createHash('sha1').update('other').digest('base64')
    const out = await refusedLastChunk(new MemoryStore(), { 'Upload-Checksum': `sha1 ${wrong}` }, '0\r\n\r\n')
    expect(out).toEqual({ patch: 460, part: '0', final: null, completed: 0 })
  })

  it('does not assemble from a part whose request is then refused with 413 (FileStore)', async () => {
    const dir = await tempDir()
    defer(dir.remove)
    const out = await refusedLastChunk(new FileStore({ directory: dir.path }), {}, '1\r\nB\r\n0\r\n\r\n')
    expect(out).toEqual({ patch: 413, part: '0', final: null, completed: 0 })
  })

  it('assembles a final created while its last part finishes, without waiting for a HEAD', async () => {
    let slow = false
    class SlowStore extends MemoryStore {
      override async get(id: string) {
        const upload = await super.get(id)
        if (slow && upload?.concat?.type === 'partial') await sleep(150)
        return upload
      }
    }
    server = await startServer({ store: new SlowStore() })
    const completed: Upload[] = []
    server.uploads.on('completed', (u) => completed.push(u))
    const part = await createUpload(server.url, 10, { 'Upload-Concat': 'partial' })
    const partPath = new URL(part).pathname
    const client = await rawClient(server.origin)
    await client.write(patchHead(partPath, 0, 10))
    await client.write(Buffer.alloc(5, 1))
    await sleep(30)
    slow = true
    const final = fetch(server.url, { method: 'POST', headers: { ...TUS, 'Upload-Concat': `final;${partPath}` } })
    await sleep(200) // the final is reading its parts now
    await client.write(Buffer.alloc(5, 1))
    expect((await client.response).status).toBe(204)
    expect((await final).status).toBe(201)
    slow = false
    await expect.poll(() => completed.length, { timeout: 3000 }).toBe(1)
    expect(completed[0].offset).toBe(10)
  })

  it('refuses a final whose deferred parts add up past maxSize', async () => {
    const store = new MemoryStore()
    server = await startServer({ store, maxSize: 10 })
    const a = await createUpload(server.url, undefined, { 'Upload-Concat': 'partial' })
    const b = await createUpload(server.url, undefined, { 'Upload-Concat': 'partial' })
    const final = await fetch(server.url, { method: 'POST', headers: { ...TUS, 'Upload-Concat': `final;${new URL(a).pathname} ${new URL(b).pathname}` } })
    expect(final.status).toBe(201)
    for (const url of [a, b]) {
      const res = await fetch(url, {
        method: 'PATCH',
        headers: { ...TUS, 'Content-Type': 'application/offset+octet-stream', 'Upload-Offset': '0', 'Upload-Length': '10' },
        body: Buffer.alloc(10, 1),
      })
      expect(res.status).toBe(204)
    }
    const head = await fetch(new URL(final.headers.get('location')!, server.url), { method: 'HEAD', headers: TUS })
    expect([404, 413]).toContain(head.status)
    const finals: Upload[] = []
    for await (const u of store.list()) if (u.concat?.type === 'final') finals.push(u)
    expect(finals).toEqual([])
  })

  it('forgets a deleted part, so the final answers 410 and nothing is kept waiting', async () => {
    server = await startServer({ store: new MemoryStore() })
    const part = await createUpload(server.url, 10, { 'Upload-Concat': 'partial' })
    const final = await fetch(server.url, { method: 'POST', headers: { ...TUS, 'Upload-Concat': `final;${new URL(part).pathname}` } })
    expect((await fetch(part, { method: 'DELETE', headers: TUS })).status).toBe(204)
    const head = await fetch(new URL(final.headers.get('location')!, server.url), { method: 'HEAD', headers: TUS })
    expect(head.status).toBe(410)
  })
})
