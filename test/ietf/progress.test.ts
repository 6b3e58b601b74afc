/**
 * 104 progress responses on appends (draft-7 §4.4.2, draft-11 §4.4.2: SHOULD): while an append's body streams,
 * interim 104s carry the offset the store holds, at most every progressInterval ms, and never Location.
 */
import type { IncomingHttpHeaders } from 'node:http2'
import { setTimeout as sleep } from 'node:timers/promises'
import { describe, expect, it } from 'vitest'
import { MemoryStore, tus } from 'tus-middleware'
import { randomData, sha256 } from '../helpers/bytes.js'
import { useCleanup } from '../helpers/cleanup.js'
import { serveH2 } from '../helpers/h2.js'
import { startServer } from '../helpers/server.js'
import { exchange, head, wire } from './wire.js'

const defer = useCleanup()

async function start(progressInterval: number) {
  const store = new MemoryStore()
  const server = await startServer(tus({ store, progressInterval }))
  defer(() => server.close(), () => server.uploads.close())
  return { ...server, store }
}

const pathFrom = (location: string): string => new URL(location, 'http://x').pathname

async function created(origin: string, version: number, length: number): Promise<string> {
  const { response } = await exchange(origin, 'POST', '/files', { 'Upload-Draft-Interop-Version': String(version), 'Upload-Complete': '?0', 'Upload-Length': length })
  expect(response.status).toBe(201)
  return pathFrom(response.headers.location)
}

async function stored(store: MemoryStore, id: string): Promise<Buffer> {
  const chunks: Buffer[] = []
  for await (const chunk of await store.read(id)) chunks.push(chunk as Buffer)
  return Buffer.concat(chunks)
}

describe('104 progress on appends', () => {
  it.each([7, 8])('interop %i: 104s with the stored Upload-Offset while the body streams, then the final response', async (version) => {
    const server = await start(100)
    const data = randomData(90_000)
    const path = await created(server.origin, version, data.length)
    const w = await wire(server.origin)
    defer(() => w.socket.destroy())
    await w.write(head('PATCH', path, {
      'Upload-Draft-Interop-Version': version, 'Content-Type': 'application/partial-upload', 'Upload-Offset': 0, 'Upload-Complete': '?1', 'Content-Length': data.length,
    }))
    await w.write(data.subarray(0, 30_000))
    await w.waitFor((r) => r.status === 104 && r.headers['upload-offset'] === '30000', 3000)
    await w.write(data.subarray(30_000, 60_000))
    await w.waitFor((r) => r.status === 104 && r.headers['upload-offset'] === '60000', 3000)
    await w.write(data.subarray(60_000))
    const { interim, response } = await w.final()
    expect(response.status).toBe(201)
    expect(response.headers['upload-complete']).toBe('?1')
    expect(interim.length).toBeGreaterThanOrEqual(2)
    let last = 0
    for (const r of interim) {
      expect(r.status).toBe(104)
      expect(r.headers['upload-draft-interop-version']).toBe(String(version))
      expect(r.headers.location).toBeUndefined()
      const offset = Number(r.headers['upload-offset'])
      expect(offset).toBeGreaterThan(last)
      expect(offset).toBeLessThanOrEqual(data.length)
      last = offset
    }
    expect(sha256(await stored(server.store, path.slice(path.lastIndexOf('/') + 1)))).toBe(sha256(data))
  })

  it('sends at most one per progressInterval', async () => {
    const server = await start(1000)
    const data = randomData(50_000)
    const path = await created(server.origin, 8, data.length)
    const w = await wire(server.origin)
    defer(() => w.socket.destroy())
    await w.write(head('PATCH', path, {
      'Upload-Draft-Interop-Version': 8, 'Content-Type': 'application/partial-upload', 'Upload-Offset': 0, 'Upload-Complete': '?1', 'Content-Length': data.length,
    }))
    const started = Date.now()
    for (let i = 0; i < 10; i++) {
      await w.write(data.subarray(i * 4000, (i + 1) * 4000))
      await sleep(150)
    }
    await w.write(data.subarray(40_000))
    const { interim } = await w.final()
    const elapsed = Date.now() - started
    expect(interim.length).toBeGreaterThanOrEqual(1)
    expect(interim.length).toBeLessThanOrEqual(Math.ceil(elapsed / 1000))
  })

  it.each([6, 5])('interop %i (where progress is only a MAY): no 104 on an append', async (version) => {
    const server = await start(100)
    const data = randomData(20_000)
    const path = await created(server.origin, version, data.length)
    const w = await wire(server.origin)
    defer(() => w.socket.destroy())
    await w.write(head('PATCH', path, {
      'Upload-Draft-Interop-Version': version, 'Content-Type': 'application/partial-upload', 'Upload-Offset': 0, 'Upload-Complete': '?1', 'Content-Length': data.length,
    }))
    await w.write(data.subarray(0, 10_000))
    await sleep(400)
    await w.write(data.subarray(10_000))
    const { interim, response } = await w.final()
    expect(interim).toEqual([])
    expect(response.status).toBe(201)
  })

  it('over HTTP/2: an additional HEADERS frame with :status 104 and Upload-Offset', async () => {
    const store = new MemoryStore()
    const uploads = tus({ store, path: '/files', progressInterval: 100 })
    const served = await serveH2((req, res) => uploads(req, res), false)
    defer(() => served.close(), () => uploads.close())
    const session = served.connect()
    const data = randomData(60_000)
    const create = session.request({ ':method': 'POST', ':path': '/files', 'upload-draft-interop-version': '8', 'upload-complete': '?0', 'upload-length': String(data.length), 'content-length': '0' })
    create.end()
    const createdHeaders = await new Promise<IncomingHttpHeaders>((resolve) => create.once('response', resolve))
    create.resume()
    expect(createdHeaders[':status']).toBe(201)
    const path = pathFrom(String(createdHeaders.location))
    const stream = session.request({
      ':method': 'PATCH', ':path': path, 'upload-draft-interop-version': '8', 'content-type': 'application/partial-upload',
      'upload-offset': '0', 'upload-complete': '?1', 'content-length': String(data.length),
    }, { endStream: false })
    const interims: IncomingHttpHeaders[] = []
    stream.on('headers', (h) => interims.push(h))
    stream.write(data.subarray(0, 20_000))
    const deadline = Date.now() + 3000
    while (!interims.some((h) => h['upload-offset'] === '20000') && Date.now() < deadline) await sleep(20)
    expect(interims.find((h) => h['upload-offset'] === '20000')).toMatchObject({ ':status': 104, 'upload-draft-interop-version': '8' })
    const final = new Promise<IncomingHttpHeaders>((resolve) => stream.once('response', resolve))
    stream.end(data.subarray(20_000))
    const response = await final
    stream.resume()
    expect(response[':status']).toBe(201)
    expect(interims.every((h) => h.location === undefined)).toBe(true)
    expect(sha256(await stored(store, path.slice(path.lastIndexOf('/') + 1)))).toBe(sha256(data))
  })
})
