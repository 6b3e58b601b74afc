import { writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import * as tus from 'tus-js-client'
import { describe, expect, it } from 'vitest'
import { FileStore, MemoryStore, type DataStore } from 'tus-middleware'
import { randomData, sha256 } from '../helpers/bytes.js'
import { useCleanup } from '../helpers/cleanup.js'
import { createUpload, head, patch, send } from '../helpers/http.js'
import { startServer, tempFileStore, type TestServer } from '../helpers/server.js'
import { idOf, TUS } from '../helpers/tus.js'

const defer = useCleanup()

async function start(store: DataStore): Promise<TestServer> {
  const server = await startServer({ store })
  defer(server.close)
  return server
}

async function createFinal(server: TestServer, urls: string[]): Promise<string> {
  const res = await send('POST', server.url, { headers: { ...TUS, 'Upload-Concat': `final;${urls.join(' ')}` } })
  expect(res.status).toBe(201)
  return new URL(res.header('location'), server.url).href
}

/**
 * `completed` fired for exactly `expected`, and stays so: one more look at `url` (a HEAD, which settles a final
 * upload again, after every request before it has answered and emitted its events) adds no second event.
 */
async function expectCompletedOnce<T>(events: T[], expected: T[], url: string): Promise<void> {
  await expect.poll(() => events).toEqual(expected)
  expect((await head(url)).status).toBe(200)
  expect(events).toEqual(expected)
}

for (const [name, make] of [['FileStore', async () => (await tempFileStore(defer)).store], ['MemoryStore', async () => new MemoryStore()]] as const) {
  describe(`concatenation-unfinished (${name})`, () => {
    it('completes a final upload, once, when its last partial finishes', async () => {
      const server = await start(await make())
      const a = randomData(40_000)
      const b = randomData(60_000)
      const urlA = await createUpload(server.url, { 'Upload-Length': a.length, 'Upload-Concat': 'partial' })
      const urlB = await createUpload(server.url, { 'Upload-Defer-Length': 1, 'Upload-Concat': 'partial' })
      expect((await patch(urlA, 0, a.subarray(0, 10_000))).status).toBe(204)
      const final = await createFinal(server, [urlA, urlB])
      const completed: string[] = []
      server.uploads.on('completed', (u) => completed.push(u.id))

      let h = await head(final)
      expect(h.status).toBe(200)
      expect(h.header('upload-offset')).toBe('') // spec: not shown before the concatenation is done
      expect(h.header('upload-length')).toBe('') // b's length is still deferred
      expect((await patch(urlB, 0, b, { 'Upload-Length': b.length })).status).toBe(204)
      h = await head(final)
      expect(h.header('upload-length')).toBe(String(a.length + b.length))
      expect(h.header('upload-offset')).toBe('')
      expect((await send('GET', final)).body.length).toBe(0)

      expect((await patch(urlA, 10_000, a.subarray(10_000))).status).toBe(204)
      await expect.poll(() => completed).toEqual([idOf(final)])
      h = await head(final)
      expect(h.header('upload-offset')).toBe(String(a.length + b.length))
      expect(sha256((await send('GET', final)).body)).toBe(sha256(Buffer.concat([a, b])))
      await expectCompletedOnce(completed, [idOf(final)], final)
    })

    it('answers 410 for a final upload whose partial was terminated', async () => {
      const server = await start(await make())
      const urlA = await createUpload(server.url, { 'Upload-Length': 5, 'Upload-Concat': 'partial' })
      const final = await createFinal(server, [urlA])
      expect((await send('DELETE', urlA, { headers: TUS })).status).toBe(204)
      expect((await head(final)).status).toBe(410)
    })
  })
}

describe('concatenation after a restart (FileStore)', () => {
  it('assembles a final upload whose last partial finished while no process knew of it', async () => {
    const { store, dir } = await tempFileStore(defer)
    const first = await start(store)
    const a = randomData(5000)
    const b = randomData(700)
    const urlA = await createUpload(first.url, { 'Upload-Length': a.length, 'Upload-Concat': 'partial' })
    const urlB = await createUpload(first.url, { 'Upload-Length': b.length, 'Upload-Concat': 'partial' })
    expect((await patch(urlB, 0, b)).status).toBe(204)
    const final = await createFinal(first, [urlA, urlB])
    await first.close()

    // The process that completes the last part never saw the final: the store tells it which final waits.
    const second = await start(new FileStore({ directory: dir }))
    const completed: string[] = []
    second.uploads.on('completed', (u) => completed.push(u.id))
    const path = (u: string) => `${second.url}/${idOf(u)}`
    expect((await patch(path(urlA), 0, a)).status).toBe(204)
    await expect.poll(() => completed).toEqual([idOf(final)])
    const h = await head(path(final))
    expect(h.header('upload-offset')).toBe(String(a.length + b.length))
    expect(sha256((await send('GET', path(final))).body)).toBe(sha256(Buffer.concat([a, b])))
  })

  it('assembles correctly a final upload whose assembly was cut short by a crash', async () => {
    const { store, dir } = await tempFileStore(defer)
    const server = await start(store)
    const a = randomData(3000)
    const b = randomData(4000)
    const urlA = await createUpload(server.url, { 'Upload-Length': a.length, 'Upload-Concat': 'partial' })
    const urlB = await createUpload(server.url, { 'Upload-Length': b.length, 'Upload-Concat': 'partial' })
    expect((await patch(urlA, 0, a)).status).toBe(204)
    const final = await createFinal(server, [urlA, urlB])
    await server.close()
    // The partial finished, and the process died mid-assembly: a half-written temp file is left behind.
    await writeFile(join(dir, `${idOf(urlB)}.bin`), b)
    await writeFile(join(dir, `.${idOf(final)}.concat.tmp`), a.subarray(0, 1000))

    const restarted = await start(new FileStore({ directory: dir }))
    const url = `${restarted.url}/${idOf(final)}`
    const completed: string[] = []
    restarted.uploads.on('completed', (u) => completed.push(u.id))
    expect((await head(url)).header('upload-offset')).toBe(String(a.length + b.length))
    expect(sha256((await send('GET', url)).body)).toBe(sha256(Buffer.concat([a, b])))
    await expectCompletedOnce(completed, [idOf(final)], url)
  })
})

describe('tus-js-client', () => {
  it('uploads with parallelUploads: 4 into a final upload equal to the source', async () => {
    const { store } = await tempFileStore(defer)
    const server = await start(store)
    const data = randomData(1_000_003)
    const completed: Array<{ id: string; offset: number }> = []
    server.uploads.on('completed', (u) => completed.push({ id: u.id, offset: u.offset }))
    const url = await new Promise<string>((resolve, reject) => {
      const upload = new tus.Upload(data, {
        endpoint: server.url,
        parallelUploads: 4,
        metadata: { filename: 'data.bin' },
        retryDelays: [],
        onError: reject,
        onSuccess: () => resolve(upload.url!),
      })
      upload.start()
    })
    const res = await send('GET', url)
    expect(sha256(res.body)).toBe(sha256(data))
    const h = await head(url)
    expect(h.header('upload-concat')).toMatch(/^final;/)
    expect(h.header('upload-concat').slice('final;'.length).split(' ')).toHaveLength(4)
    await expectCompletedOnce(completed, [{ id: idOf(url), offset: data.length }], url)
  })
})
