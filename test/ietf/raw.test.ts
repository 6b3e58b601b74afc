/**
 * The draft on the wire, per interop version, following each text's examples: creation with the 104 interim
 * response before the body is sent, an interrupted creation resumed from HEAD's offset, appends, a wrong
 * offset, a too-large append, cancellation, OPTIONS limits.
 */
import type { RequestListener } from 'node:http'
import { describe, expect, it } from 'vitest'
import { MemoryStore, tus, type TusOptions } from 'tus-middleware'
import { randomData, sha256 } from '../helpers/bytes.js'
import { useCleanup } from '../helpers/cleanup.js'
import { until } from '../helpers/raw.js'
import { serve, startServer, type TestServer } from '../helpers/server.js'
import { exchange, head, wire } from './wire.js'

const defer = useCleanup()

async function start(options: TusOptions = {}): Promise<TestServer & { store: MemoryStore }> {
  const store = new MemoryStore()
  const uploads = tus({ store, ...options })
  const server = await startServer(uploads)
  defer(() => server.close(), () => uploads.close())
  return { ...server, store }
}

async function stored(store: MemoryStore, id: string): Promise<Buffer> {
  const chunks: Buffer[] = []
  for await (const chunk of await store.read(id)) chunks.push(chunk as Buffer)
  return Buffer.concat(chunks)
}

const idFrom = (location: string): string => location.slice(location.lastIndexOf('/') + 1)
const pathFrom = (location: string): string => new URL(location, 'http://x').pathname

/** The fields of an append for `version`: the media type where the version has one. */
const appendType = (version: number): Record<string, string> => (version >= 5 ? { 'Content-Type': 'application/partial-upload' } : {})

async function headOf(url: string, version: number) {
  const res = await fetch(url, { method: 'HEAD', headers: { 'Upload-Draft-Interop-Version': String(version) } })
  return res
}

describe.each([3, 4, 5, 6, 7, 8])('interop version %i', (version) => {
  const V = { 'Upload-Draft-Interop-Version': String(version) }

  it('creates a complete upload in one request: a 104 with Location arrives before the body is sent', async () => {
    const server = await start({ maxSize: 1_000_000 })
    const data = randomData(100)
    const w = await wire(server.origin)
    defer(() => w.socket.destroy())
    await w.write(head('POST', '/files', { ...V, 'Upload-Complete': '?1', 'Content-Length': 100 }))
    // Nothing of the body is on the wire yet: the 104 is the server's answer to the head alone.
    const [interim] = await w.waitFor((r) => r.status === 104)
    expect(interim.reason).toBe('Upload Resumption Supported')
    expect(interim.headers['upload-draft-interop-version']).toBe(String(version))
    expect(interim.headers.location).toMatch(/^http:\/\/localhost\/files\/[^/]+$/)
    if (version >= 6) expect(interim.headers['upload-limit']).toBe('max-size=1000000')
    else expect(interim.headers['upload-limit']).toBeUndefined()
    await w.write(data)
    const { response } = await w.final()
    expect(response.status).toBe(201)
    expect(response.headers.location).toBe(interim.headers.location)
    expect(response.headers['upload-offset']).toBe('100')
    expect(response.headers['upload-complete']).toBe('?1')
    expect(response.headers['tus-resumable']).toBeUndefined()
    const id = idFrom(response.headers.location)
    expect(sha256(await stored(server.store, id))).toBe(sha256(data))
    const upload = await server.store.get(id)
    expect(upload).toMatchObject({ offset: 100, length: 100 })
    expect(upload?.completedAt).toBeDefined()
  })

  it('resumes an interrupted creation from the offset HEAD reports, and completes it with an append', async () => {
    const server = await start()
    const data = randomData(64 * 1024)
    const w = await wire(server.origin)
    await w.write(head('POST', '/files', { ...V, 'Upload-Complete': '?1', 'Content-Length': data.length, 'Content-Type': 'image/png' }))
    const [interim] = await w.waitFor((r) => r.status === 104)
    const url = new URL(pathFrom(interim.headers.location), server.origin).href
    const sent = 40_000
    await w.write(data.subarray(0, sent))
    await until(async () => (await server.store.get(idFrom(url)))?.offset === sent, 5000, 'bytes stored')
    w.socket.destroy()

    const res = await headOf(url, version)
    expect(res.status).toBe(204)
    expect(res.headers.get('upload-offset')).toBe(String(sent))
    expect(res.headers.get('upload-complete')).toBe('?0')
    expect(res.headers.get('cache-control')).toBe('no-store')
    expect(res.headers.get('tus-resumable')).toBeNull()
    // The length told by Upload-Complete: ?1 with Content-Length was recorded (draft-3 §4); shown from 6 on.
    expect(res.headers.get('upload-length')).toBe(version >= 6 ? String(data.length) : null)

    const rest = data.subarray(sent)
    const { response } = await exchange(server.origin, 'PATCH', pathFrom(url), { ...V, ...appendType(version), 'Upload-Offset': sent, 'Upload-Complete': '?1' }, rest)
    expect(response.status).toBe(201)
    expect(response.headers['upload-complete']).toBe('?1')
    expect(response.headers['upload-offset']).toBe(String(data.length))
    const done = await headOf(url, version)
    expect(done.headers.get('upload-complete')).toBe('?1')
    expect(sha256(await stored(server.store, idFrom(url)))).toBe(sha256(data))
    expect((await server.store.get(idFrom(url)))?.metadata.filetype).toBe('image/png')
  })

  it('creates an upload with Upload-Complete: ?0 and appends parts; the last says ?1', async () => {
    const server = await start()
    const data = randomData(3000)
    const created = await exchange(server.origin, 'POST', '/files', { ...V, 'Upload-Complete': '?0' }, data.subarray(0, 1000))
    expect(created.response.status).toBe(201)
    expect(created.response.headers['upload-complete']).toBe('?0')
    expect(created.response.headers['upload-offset']).toBe('1000')
    const path = pathFrom(created.response.headers.location)
    const second = await exchange(server.origin, 'PATCH', path, { ...V, ...appendType(version), 'Upload-Offset': 1000, 'Upload-Complete': '?0' }, data.subarray(1000, 2000))
    // draft-3 §5: 201 with Upload-Complete: ?0 (3-5); draft-6 §4.4.2: a 2xx with Upload-Complete: ?0.
    expect(second.response.status).toBe(version <= 5 ? 201 : 204)
    expect(second.response.headers['upload-complete']).toBe('?0')
    expect(second.response.headers['upload-offset']).toBe('2000')
    // Not complete, although no length is known: only the client completes an upload (draft-6 §4.1.2).
    expect((await headOf(new URL(path, server.origin).href, version)).headers.get('upload-complete')).toBe('?0')
    const last = await exchange(server.origin, 'PATCH', path, { ...V, ...appendType(version), 'Upload-Offset': 2000, 'Upload-Complete': '?1' }, data.subarray(2000))
    expect(last.response.status).toBe(201)
    expect(last.response.headers['upload-complete']).toBe('?1')
    expect(sha256(await stored(server.store, idFrom(path)))).toBe(sha256(data))
    expect((await server.store.get(idFrom(path)))?.length).toBe(3000)
  })

  it('answers a wrong offset with 409 and the correct Upload-Offset (a problem document from interop 5 on)', async () => {
    const server = await start()
    const created = await exchange(server.origin, 'POST', '/files', { ...V, 'Upload-Complete': '?0' }, randomData(100))
    const path = pathFrom(created.response.headers.location)
    const { response } = await exchange(server.origin, 'PATCH', path, { ...V, ...appendType(version), 'Upload-Offset': 200, 'Upload-Complete': '?0' }, randomData(10))
    expect(response.status).toBe(409)
    expect(response.headers['upload-offset']).toBe('100')
    if (version >= 5) {
      expect(response.headers['content-type']).toBe('application/problem+json')
      expect(JSON.parse(response.body)).toMatchObject({
        type: 'https://iana.org/assignments/http-problem-types#mismatching-upload-offset',
        'expected-offset': 100,
        'provided-offset': 200,
      })
    } else {
      expect(response.headers['content-type']).toMatch(/^text\/plain/)
    }
    expect((await server.store.get(idFrom(path)))?.offset).toBe(100)
  })

  it('refuses an append larger than max-append-size with 413, storing none of it', async () => {
    const server = await start({ resumableDrafts: { maxAppendSize: 1000 } })
    const created = await exchange(server.origin, 'POST', '/files', { ...V, 'Upload-Complete': '?0' })
    const path = pathFrom(created.response.headers.location)
    const { response } = await exchange(server.origin, 'PATCH', path, { ...V, ...appendType(version), 'Upload-Offset': 0, 'Upload-Complete': '?0' }, randomData(1001))
    expect(response.status).toBe(413)
    expect((await server.store.get(idFrom(path)))?.offset).toBe(0)
    const fits = await exchange(server.origin, 'PATCH', path, { ...V, ...appendType(version), 'Upload-Offset': 0, 'Upload-Complete': '?0' }, randomData(1000))
    expect(fits.response.headers['upload-offset']).toBe('1000')
  })

  it('refuses an append past the recorded length with 413', async () => {
    const server = await start()
    const w = await wire(server.origin)
    await w.write(head('POST', '/files', { ...V, 'Upload-Complete': '?1', 'Content-Length': 100 }))
    const [interim] = await w.waitFor((r) => r.status === 104)
    await w.write(randomData(50))
    const path = pathFrom(interim.headers.location)
    await until(async () => (await server.store.get(idFrom(path)))?.offset === 50, 5000, 'bytes stored')
    w.socket.destroy()
    await headOf(new URL(path, server.origin).href, version)
    const { response } = await exchange(server.origin, 'PATCH', path, { ...V, ...appendType(version), 'Upload-Offset': 50, 'Upload-Complete': '?0' }, randomData(60))
    expect(response.status).toBe(413)
    expect((await server.store.get(idFrom(path)))?.offset).toBe(50)
  })

  it('cancels an upload with DELETE (204), after which it is gone (404)', async () => {
    const server = await start()
    const created = await exchange(server.origin, 'POST', '/files', { ...V, 'Upload-Complete': '?0' }, randomData(10))
    const url = new URL(pathFrom(created.response.headers.location), server.origin).href
    const res = await fetch(url, { method: 'DELETE', headers: V })
    expect(res.status).toBe(204)
    expect(res.headers.get('tus-resumable')).toBeNull()
    expect((await headOf(url, version)).status).toBe(404)
  })

  it('answers OPTIONS with Upload-Limit where the version defines it', async () => {
    const server = await start({ maxSize: 5000, expireAfter: 60_000, resumableDrafts: { minAppendSize: 10, maxAppendSize: 2000 } })
    const res = await fetch(server.url, { method: 'OPTIONS', headers: V })
    expect(res.status).toBe(204)
    if (version >= 6) expect(res.headers.get('upload-limit')).toBe('max-size=5000, max-append-size=2000, min-append-size=10, max-age=60')
    else expect(res.headers.get('upload-limit')).toBeNull()
    expect(res.headers.get('accept-patch')).toBe(version >= 8 ? 'application/partial-upload' : null)
    const none = await start()
    const bare = await fetch(none.url, { method: 'OPTIONS', headers: V })
    // draft-6 §4.1.4: no limits at all is said as min-size=0.
    expect(bare.headers.get('upload-limit')).toBe(version >= 6 ? 'min-size=0' : null)
  })

  it('refuses to append to a completed upload', async () => {
    const server = await start()
    const created = await exchange(server.origin, 'POST', '/files', { ...V, 'Upload-Complete': '?1' }, randomData(10))
    const path = pathFrom(created.response.headers.location)
    const { response } = await exchange(server.origin, 'PATCH', path, { ...V, ...appendType(version), 'Upload-Offset': 10, 'Upload-Complete': '?1' }, randomData(5))
    expect(response.status).toBe(400)
    if (version >= 5) {
      // draft-11 §4.4.2: a non-empty append to a completed upload is an inconsistent length.
      const type = version >= 8 ? 'inconsistent-upload-length' : 'completed-upload'
      expect(JSON.parse(response.body).type).toBe(`https://iana.org/assignments/http-problem-types#${type}`)
    }
    expect((await server.store.get(idFrom(path)))?.offset).toBe(10)
  })
})

describe('per-version rules', () => {
  it('interop 3-5: an append without Upload-Complete ends the upload; 6 on: it is refused', async () => {
    for (const version of [3, 5, 6, 8]) {
      const server = await start()
      const V = { 'Upload-Draft-Interop-Version': String(version) }
      const created = await exchange(server.origin, 'POST', '/files', { ...V, 'Upload-Complete': '?0' }, randomData(10))
      const path = pathFrom(created.response.headers.location)
      const { response } = await exchange(server.origin, 'PATCH', path, { ...V, ...appendType(version), 'Upload-Offset': 10 }, randomData(5))
      if (version <= 5) {
        expect(response.status).toBe(201)
        expect(response.headers['upload-complete']).toBe('?1')
      } else {
        expect(response.status).toBe(400)
      }
    }
  })

  it('interop 6 on: an append must be application/partial-upload (415); 5 also takes none', async () => {
    for (const [version, type, status] of [[6, undefined, 415], [8, 'application/octet-stream', 415], [5, undefined, 201], [5, 'text/plain', 415], [3, 'text/plain', 201]] as const) {
      const server = await start()
      const V = { 'Upload-Draft-Interop-Version': String(version) }
      const created = await exchange(server.origin, 'POST', '/files', { ...V, 'Upload-Complete': '?0' })
      const path = pathFrom(created.response.headers.location)
      const { response } = await exchange(server.origin, 'PATCH', path, { ...V, ...(type ? { 'Content-Type': type } : {}), 'Upload-Offset': 0, 'Upload-Complete': '?1' }, randomData(5))
      expect([version, response.status]).toEqual([version, status])
    }
  })

  it('interop 3-5: HEAD and DELETE carrying Upload-Offset or Upload-Complete get 400', async () => {
    const server = await start()
    const V = { 'Upload-Draft-Interop-Version': '3' }
    const created = await exchange(server.origin, 'POST', '/files', { ...V, 'Upload-Complete': '?0' })
    const url = new URL(pathFrom(created.response.headers.location), server.origin).href
    expect((await fetch(url, { method: 'HEAD', headers: { ...V, 'Upload-Offset': '0' } })).status).toBe(400)
    expect((await fetch(url, { method: 'DELETE', headers: { ...V, 'Upload-Complete': '?0' } })).status).toBe(400)
    expect((await fetch(url, { method: 'HEAD', headers: { 'Upload-Draft-Interop-Version': '6', 'Upload-Offset': '0' } })).status).toBe(204)
  })

  it('inconsistent lengths: 409 problem in interop 6, 400 from 7 on', async () => {
    for (const [version, status] of [[6, 409], [7, 400], [8, 400]] as const) {
      const server = await start()
      const V = { 'Upload-Draft-Interop-Version': String(version) }
      const { response } = await exchange(server.origin, 'POST', '/files', { ...V, 'Upload-Complete': '?1', 'Upload-Length': 20 }, randomData(10))
      expect(response.status).toBe(status)
      expect(JSON.parse(response.body).type).toBe('https://iana.org/assignments/http-problem-types#inconsistent-upload-length')
      // A later request naming another length than the recorded one.
      const created = await exchange(server.origin, 'POST', '/files', { ...V, 'Upload-Complete': '?0', 'Upload-Length': 20 }, randomData(10))
      const path = pathFrom(created.response.headers.location)
      const head6 = await headOf(new URL(path, server.origin).href, version)
      expect(head6.headers.get('upload-length')).toBe('20')
      const append = await exchange(server.origin, 'PATCH', path, { ...V, ...appendType(version), 'Upload-Offset': 10, 'Upload-Complete': '?1' }, randomData(5))
      expect(append.response.status).toBe(status)
    }
  })

  it('structured fields: interop 3-6 refuse a malformed Upload-Complete (400); 7 on ignore it', async () => {
    const server = await start()
    const six = await exchange(server.origin, 'POST', '/files', { 'Upload-Draft-Interop-Version': '6', 'Upload-Complete': 'true' })
    expect(six.response.status).toBe(400)
    // Ignored, the creation has no Upload-Complete at all, which the collection refuses too.
    const seven = await exchange(server.origin, 'POST', '/files', { 'Upload-Draft-Interop-Version': '7', 'Upload-Complete': 'true' })
    expect(seven.response.status).toBe(400)
    expect(seven.response.body).toMatch(/Upload-Complete/)
  })

  it('an unknown interop version gets 400 naming the versions served', async () => {
    const server = await start({ resumableDrafts: [5, 6] })
    const res = await fetch(server.url, { method: 'POST', headers: { 'Upload-Draft-Interop-Version': '8', 'Upload-Complete': '?1' } })
    expect(res.status).toBe(400)
    expect(await res.text()).toMatch(/served versions: 5, 6/)
    const nine = await fetch(server.url, { method: 'POST', headers: { 'Upload-Draft-Interop-Version': '9', 'Upload-Complete': '?1' } })
    expect(nine.status).toBe(400)
  })

  it('an unknown interop version is answered as a draft request: no Tus-Resumable, on every method', async () => {
    const server = await start({ resumableDrafts: [5, 6] })
    for (const method of ['POST', 'OPTIONS']) {
      const res = await fetch(server.url, { method, headers: { 'Upload-Draft-Interop-Version': '8', 'Upload-Complete': '?1' } })
      expect(res.status).toBe(400)
      expect(res.headers.get('tus-resumable')).toBeNull()
      expect(res.headers.get('tus-version')).toBeNull()
    }
    for (const method of ['HEAD', 'PATCH', 'DELETE']) {
      const res = await fetch(`${server.url}/some-id`, { method, headers: { 'Upload-Draft-Interop-Version': 'x' } })
      expect(res.status).toBe(400)
      expect(res.headers.get('tus-resumable')).toBeNull()
    }
  })

  it('resumableDrafts: false serves tus 1.0 only: a draft request is a tus request without Tus-Resumable', async () => {
    const server = await start({ resumableDrafts: false })
    const res = await fetch(server.url, { method: 'POST', headers: { 'Upload-Draft-Interop-Version': '6', 'Upload-Complete': '?1' } })
    expect(res.status).toBe(412)
    expect(() => tus({ store: new MemoryStore(), resumableDrafts: [2] })).toThrow(/resumableDrafts/)
  })

  it('one upload state: a tus client sees a draft upload, and a draft client resumes a tus upload', async () => {
    const server = await start()
    const created = await exchange(server.origin, 'POST', '/files', { 'Upload-Draft-Interop-Version': '6', 'Upload-Complete': '?0' }, randomData(10))
    const url = new URL(pathFrom(created.response.headers.location), server.origin).href
    const tusHead = await fetch(url, { method: 'HEAD', headers: { 'Tus-Resumable': '1.0.0' } })
    expect(tusHead.headers.get('upload-offset')).toBe('10')
    expect(tusHead.headers.get('upload-defer-length')).toBe('1')
    expect(tusHead.headers.get('tus-resumable')).toBe('1.0.0')
    const tusCreated = await fetch(server.url, { method: 'POST', headers: { 'Tus-Resumable': '1.0.0', 'Upload-Length': '5' } })
    const tusUrl = new URL(tusCreated.headers.get('location')!, server.origin).href
    const draftHead = await headOf(tusUrl, 8)
    expect(draftHead.headers.get('upload-length')).toBe('5')
    expect(draftHead.headers.get('upload-complete')).toBe('?0')
    const { response } = await exchange(server.origin, 'PATCH', pathFrom(tusUrl), { 'Upload-Draft-Interop-Version': '8', 'Content-Type': 'application/partial-upload', 'Upload-Offset': 0, 'Upload-Complete': '?1' }, randomData(5))
    expect(response.status).toBe(201)
  })

  it('runs the onCreate, authorize and onComplete hooks and fires the events for draft uploads', async () => {
    const seen: string[] = []
    const server = await start({
      onCreate: () => void seen.push('onCreate'),
      authorize: (_u, _r, action) => void seen.push(`authorize:${action}`),
      onComplete: () => void seen.push('onComplete'),
    })
    server.uploads.on('completed', () => seen.push('completed'))
    const V = { 'Upload-Draft-Interop-Version': '6' }
    const created = await exchange(server.origin, 'POST', '/files', { ...V, 'Upload-Complete': '?0' }, randomData(10))
    const path = pathFrom(created.response.headers.location)
    await exchange(server.origin, 'PATCH', path, { ...V, ...appendType(6), 'Upload-Offset': 10, 'Upload-Complete': '?1' }, randomData(5))
    await until(() => seen.includes('completed'))
    expect(seen).toEqual(['onCreate', 'authorize:patch', 'onComplete', 'completed'])
  })
})

describe('OPTIONS *', () => {
  async function plain(options: TusOptions) {
    const uploads = tus({ store: new MemoryStore(), path: '/files', ...options })
    const listener: RequestListener = (req, res) => uploads(req, res)
    const served = await serve(listener)
    defer(() => served.close(), () => uploads.close())
    return served
  }

  it('answers a draft OPTIONS * on plain node:http with the server-wide limits', async () => {
    const served = await plain({ maxSize: 5_000_000 })
    const eight = await exchange(served.origin, 'OPTIONS', '*', { 'Upload-Draft-Interop-Version': '8' })
    expect(eight.response.status).toBe(204)
    expect(eight.response.headers['upload-limit']).toBe('max-size=5000000')
    expect(eight.response.headers['accept-patch']).toBe('application/partial-upload')
    expect(eight.response.headers['tus-resumable']).toBeUndefined()
    const six = await exchange(served.origin, 'OPTIONS', '*', { 'Upload-Draft-Interop-Version': '6' })
    expect(six.response.status).toBe(204)
    expect(six.response.headers['upload-limit']).toBe('max-size=5000000')
  })

  it('leaves a tus OPTIONS * as it was (not for the middleware under a path)', async () => {
    const served = await plain({})
    const { response } = await exchange(served.origin, 'OPTIONS', '*', { 'Tus-Resumable': '1.0.0' })
    expect(response.status).toBe(404)
  })
})
