import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { FileStore } from 'tus-middleware'
import { randomData, sha256 } from '../helpers/bytes.js'
import { createUpload, patch, send } from '../helpers/http.js'
import { startServer, tempDir, type TestServer } from '../helpers/server.js'

let server: TestServer
let remove: () => Promise<void>
let finished: string
let unfinished: string
const data = randomData(10_000)

beforeAll(async () => {
  const dir = await tempDir()
  remove = dir.remove
  server = await startServer({ store: new FileStore({ directory: dir.path }) })
  finished = await createUpload(server.url, { 'Upload-Length': data.length })
  expect((await patch(finished, 0, data)).status).toBe(204)
  unfinished = await createUpload(server.url, { 'Upload-Length': data.length })
  expect((await patch(unfinished, 0, data.subarray(0, 4000))).status).toBe(204)
})
afterAll(async () => {
  await server.close()
  await remove()
})

const get = (url: string, headers: Record<string, string> = {}) => send('GET', url, { headers })

describe('GET ranges', () => {
  it('serves the whole upload with Accept-Ranges, ETag and Last-Modified when finished', async () => {
    const res = await get(finished)
    expect(res.status).toBe(200)
    expect(res.header('accept-ranges')).toBe('bytes')
    expect(res.header('etag')).toMatch(/^"[^"]+"$/)
    expect(Date.parse(res.header('last-modified'))).not.toBeNaN()
    expect(sha256(res.body)).toBe(sha256(data))
  })

  const cases: Array<[string, number, number]> = [
    ['bytes=0-99', 0, 99],
    ['bytes=9000-', 9000, 9999],
    ['bytes=-500', 9500, 9999],
    ['bytes=5000-999999', 5000, 9999],
    ['bytes=1234-1234', 1234, 1234],
  ]
  for (const [range, start, end] of cases) {
    it(`answers ${range} with 206 and Content-Range`, async () => {
      const res = await get(finished, { Range: range })
      expect(res.status).toBe(206)
      expect(res.header('content-range')).toBe(`bytes ${start}-${end}/${data.length}`)
      expect(res.header('content-length')).toBe(String(end - start + 1))
      expect(sha256(res.body)).toBe(sha256(data.subarray(start, end + 1)))
    })
  }

  it('answers 416 with Content-Range: bytes */size for an unsatisfiable range', async () => {
    for (const range of ['bytes=10000-', 'bytes=20000-20001', 'bytes=-0']) {
      const res = await get(finished, { Range: range })
      expect(res.status).toBe(416)
      expect(res.header('content-range')).toBe(`bytes */${data.length}`)
    }
  })

  it('ignores several ranges and malformed ones, serving everything', async () => {
    for (const range of ['bytes=0-1,5-6', 'bytes=abc', 'items=0-5', 'bytes=5-2']) {
      const res = await get(finished, { Range: range })
      expect(res.status).toBe(200)
      expect(sha256(res.body)).toBe(sha256(data))
    }
  })

  it('answers 304 to If-None-Match with the ETag, and to If-Modified-Since', async () => {
    const { headers } = await get(finished)
    expect((await get(finished, { 'If-None-Match': String(headers.etag) })).status).toBe(304)
    expect((await get(finished, { 'If-None-Match': '"other"' })).status).toBe(200)
    expect((await get(finished, { 'If-Modified-Since': String(headers['last-modified']) })).status).toBe(304)
  })

  it('honours If-Range: the range only while the ETag matches', async () => {
    const etag = (await get(finished)).header('etag')
    expect((await get(finished, { Range: 'bytes=0-9', 'If-Range': etag })).status).toBe(206)
    const stale = await get(finished, { Range: 'bytes=0-9', 'If-Range': '"stale"' })
    expect(stale.status).toBe(200)
    expect(stale.body.length).toBe(data.length)
  })

  it('serves ranges of an unfinished upload from the bytes received, without validators', async () => {
    const res = await get(unfinished, { Range: 'bytes=3990-' })
    expect(res.status).toBe(206)
    expect(res.header('content-range')).toBe('bytes 3990-3999/4000')
    expect(res.body).toEqual(data.subarray(3990, 4000))
    expect(res.header('etag')).toBe('')
    expect(res.header('last-modified')).toBe('')
  })
})
