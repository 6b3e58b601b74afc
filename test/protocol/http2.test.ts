/**
 * The protocol over node:http2's compatibility API: the middleware as the whole request handler of
 * http2.createServer (cleartext h2c) and of http2.createSecureServer with allowHTTP1 (TLS, where HTTP/1.1
 * clients are served too). HTTP/2 bodies usually come without Content-Length, checksums may come as HTTP/2
 * trailers, and a client cuts a request by resetting its stream, not the connection.
 */
import https from 'node:https'
import http2, { type ClientHttp2Session, type IncomingHttpHeaders, type OutgoingHttpHeaders } from 'node:http2'
import { createHash } from 'node:crypto'
import connect from 'connect'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { MemoryLocker, MemoryStore, tus, type Lock, type LockOptions, type Locker, type TusMiddleware } from 'tus-middleware'
import { randomData, sha256 } from '../helpers/bytes.js'
import { request, serveH2, type H2Response, type H2Served } from '../helpers/h2.js'
import { InstrumentedStore } from '../helpers/instrumented-store.js'

const TUS = { 'tus-resumable': '1.0.0' }
const OCTETS = { 'content-type': 'application/offset+octet-stream' }
/** Connection-specific headers (RFC 9113, 8.2.2): an HTTP/2 response never carries them. */
const FORBIDDEN = ['connection', 'keep-alive', 'transfer-encoding', 'proxy-connection', 'upgrade']

/** Counts the locks held right now, to see that a cut request gives its lock back. */
class CountingLocker implements Locker {
  held = 0
  private readonly inner = new MemoryLocker()
  async lock(id: string, options: LockOptions): Promise<Lock> {
    const lock = await this.inner.lock(id, options)
    this.held++
    let released = false
    return {
      signal: lock.signal,
      fence: lock.fence,
      release: async () => {
        if (!released) this.held--
        released = true
        await lock.release()
      },
    }
  }
}

const sha1 = (data: Buffer): string => createHash('sha1').update(data).digest('base64')

async function storedBytes(uploads: TusMiddleware, id: string): Promise<Buffer> {
  const upload = await uploads.store.get(id)
  if (!upload || upload.offset === 0) return Buffer.alloc(0)
  const chunks: Buffer[] = []
  for await (const chunk of await uploads.store.read!(id, { start: 0, end: upload.offset - 1 })) chunks.push(chunk as Buffer)
  return Buffer.concat(chunks)
}

async function until(check: () => boolean | Promise<boolean>, ms = 5000): Promise<void> {
  const deadline = Date.now() + ms
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error('timed out waiting')
    await new Promise((resolve) => setTimeout(resolve, 10))
  }
}

for (const transport of ['h2c', 'tls'] as const) {
  describe(`tus over node:http2 (${transport === 'h2c' ? 'cleartext h2c' : 'TLS with allowHTTP1'})`, () => {
    const scheme = transport === 'tls' ? 'https' : 'http'
    const store = new InstrumentedStore(new MemoryStore())
    const locker = new CountingLocker()
    const uploads = tus({ store, locker, path: '/files', maxSize: 1024 * 1024, cors: { origin: ['https://app.example'] } })
    const warnings: string[] = []
    const rejections: unknown[] = []
    const onWarning = (w: Error) => warnings.push(`${w.name}: ${w.message}`)
    const onRejection = (reason: unknown) => rejections.push(reason)
    const failures: unknown[] = []
    let served: H2Served
    let session: ClientHttp2Session

    beforeAll(async () => {
      process.on('warning', onWarning)
      process.on('unhandledRejection', onRejection)
      // The middleware is the whole handler: no router, no next(); an error a hook throws would reach next.
      served = await serveH2((req, res) => uploads(req, res, (err) => failures.push(err)), transport === 'tls')
      session = served.connect()
    })

    afterAll(async () => {
      await served.close()
      process.off('warning', onWarning)
      process.off('unhandledRejection', onRejection)
      uploads.close()
    })

    /** A request on the shared session, whose response must carry no connection-specific header. */
    async function send(method: string, path: string, headers: OutgoingHttpHeaders = {}, body?: Buffer | string, trailers?: OutgoingHttpHeaders): Promise<H2Response> {
      const res = await request(session, method, path, headers, body, { trailers })
      expectNoConnectionHeaders(res.headers)
      return res
    }

    function expectNoConnectionHeaders(headers: IncomingHttpHeaders): void {
      for (const name of FORBIDDEN) expect(headers[name], name).toBeUndefined()
    }

    async function create(length: number, extra: OutgoingHttpHeaders = {}): Promise<{ id: string; path: string; location: string }> {
      const res = await send('POST', '/files', { ...TUS, 'upload-length': String(length), ...extra })
      expect(res.status).toBe(201)
      const location = String(res.headers.location)
      const path = new URL(location).pathname
      return { id: decodeURIComponent(path.split('/').pop()!), path, location }
    }

    it('answers OPTIONS with the tus capabilities', async () => {
      const res = await send('OPTIONS', '/files')
      expect(res.status).toBe(204)
      expect(res.headers['tus-version']).toBe('1.0.0')
      expect(String(res.headers['tus-extension']).split(',')).toEqual(
        expect.arrayContaining(['creation', 'creation-with-upload', 'termination', 'checksum', 'checksum-trailer']),
      )
    })

    it('answers a CORS preflight and sets CORS headers on uploads', async () => {
      const origin = 'https://app.example'
      const pre = await send('OPTIONS', '/files', { origin, 'access-control-request-method': 'POST' })
      expect(pre.status).toBe(204)
      expect(pre.headers['access-control-allow-origin']).toBe(origin)
      expect(pre.headers['access-control-allow-methods']).toContain('PATCH')
      const res = await send('POST', '/files', { ...TUS, origin, 'upload-length': '1' })
      expect(res.status).toBe(201)
      expect(res.headers['access-control-allow-origin']).toBe(origin)
      expect(res.headers['access-control-expose-headers']).toContain('Location')
      expect(res.headers.vary).toContain('Origin')
    })

    it(`creates an upload with an absolute ${scheme} Location naming the :authority`, async () => {
      const { location } = await create(10)
      const authority = new URL(served.origin).host
      expect(location).toMatch(new RegExp(`^${scheme}://${authority.replace(/\./g, '\\.')}/files/[^/]+$`))
    })

    it('answers HEAD with the offset, uncached', async () => {
      const { path } = await create(10)
      const res = await send('HEAD', path, TUS)
      expect(res.status).toBe(200)
      expect(res.headers['upload-offset']).toBe('0')
      expect(res.headers['upload-length']).toBe('10')
      expect(res.headers['cache-control']).toBe('no-store')
      expect(res.body.length).toBe(0)
    })

    it('stores a PATCH with Content-Length', async () => {
      const data = randomData(64 * 1024)
      const { id, path } = await create(data.length)
      const res = await send('PATCH', path, { ...TUS, ...OCTETS, 'upload-offset': '0', 'content-length': String(data.length) }, data)
      expect(res.status).toBe(204)
      expect(res.headers['upload-offset']).toBe(String(data.length))
      expect(sha256(await storedBytes(uploads, id))).toBe(sha256(data))
    })

    it('stores PATCHes without Content-Length (the usual HTTP/2 body)', async () => {
      const data = randomData(200 * 1024)
      const { id, path } = await create(data.length)
      let res = await send('PATCH', path, { ...TUS, ...OCTETS, 'upload-offset': '0' }, data.subarray(0, 70_000))
      expect(res.status).toBe(204)
      expect(res.headers['upload-offset']).toBe('70000')
      res = await send('PATCH', path, { ...TUS, ...OCTETS, 'upload-offset': '70000' }, data.subarray(70_000))
      expect(res.status).toBe(204)
      expect(res.headers['upload-offset']).toBe(String(data.length))
      expect(sha256(await storedBytes(uploads, id))).toBe(sha256(data))
    })

    it('refuses a PATCH at the wrong offset with 409', async () => {
      const { path } = await create(10)
      const res = await send('PATCH', path, { ...TUS, ...OCTETS, 'upload-offset': '3' }, 'abcdefg')
      expect(res.status).toBe(409)
      expect((await send('HEAD', path, TUS)).headers['upload-offset']).toBe('0')
    })

    describe.each([
      ['with Content-Length', true],
      ['without Content-Length', false],
    ])('Upload-Checksum header, %s', (_name, sized) => {
      const length = (data: Buffer): OutgoingHttpHeaders => (sized ? { 'content-length': String(data.length) } : {})

      it('stores a body that matches (204)', async () => {
        const data = randomData(5000)
        const { id, path } = await create(data.length)
        const res = await send('PATCH', path, { ...TUS, ...OCTETS, 'upload-offset': '0', 'upload-checksum': `sha1 ${sha1(data)}`, ...length(data) }, data)
        expect(res.status).toBe(204)
        expect(res.headers['upload-offset']).toBe('5000')
        expect(sha256(await storedBytes(uploads, id))).toBe(sha256(data))
      })

      it('refuses a body that does not match (460), storing none of it', async () => {
        const data = randomData(5000)
        const { path } = await create(data.length)
        const res = await send('PATCH', path, { ...TUS, ...OCTETS, 'upload-offset': '0', 'upload-checksum': `sha1 ${sha1(Buffer.from('other'))}`, ...length(data) }, data)
        expect(res.status).toBe(460)
        expect((await send('HEAD', path, TUS)).headers['upload-offset']).toBe('0')
      })
    })

    describe('Upload-Checksum as an HTTP/2 trailer', () => {
      it('verifies a matching trailer (204)', async () => {
        const data = randomData(30_000)
        const { id, path } = await create(data.length)
        const res = await send('PATCH', path, { ...TUS, ...OCTETS, 'upload-offset': '0', trailer: 'Upload-Checksum' }, data, {
          'upload-checksum': `sha1 ${sha1(data)}`,
        })
        expect(res.status).toBe(204)
        expect(res.headers['upload-offset']).toBe(String(data.length))
        expect(sha256(await storedBytes(uploads, id))).toBe(sha256(data))
      })

      it('verifies a trailer on a body with Content-Length', async () => {
        const data = randomData(3000)
        const { path } = await create(data.length)
        const res = await send('PATCH', path, { ...TUS, ...OCTETS, 'upload-offset': '0', 'content-length': '3000', trailer: 'Upload-Checksum' }, data, {
          'upload-checksum': `sha256 ${createHash('sha256').update(data).digest('base64')}`,
        })
        expect(res.status).toBe(204)
        expect(res.headers['upload-offset']).toBe('3000')
      })

      it('refuses a mismatching trailer (460), storing none of it', async () => {
        const data = randomData(30_000)
        const { path } = await create(data.length)
        const res = await send('PATCH', path, { ...TUS, ...OCTETS, 'upload-offset': '0', trailer: 'Upload-Checksum' }, data, {
          'upload-checksum': `sha1 ${sha1(Buffer.from('other'))}`,
        })
        expect(res.status).toBe(460)
        expect((await send('HEAD', path, TUS)).headers['upload-offset']).toBe('0')
      })

      it('refuses an announced trailer that never comes (400)', async () => {
        const { path } = await create(10)
        const res = await send('PATCH', path, { ...TUS, ...OCTETS, 'upload-offset': '0', trailer: 'Upload-Checksum' }, 'abcde')
        expect(res.status).toBe(400)
        expect((await send('HEAD', path, TUS)).headers['upload-offset']).toBe('0')
      })
    })

    it.each([
      ['with Content-Length', true],
      ['without Content-Length', false],
    ])('creates with upload (creation-with-upload), %s', async (_name, sized) => {
      const data = randomData(40_000)
      const res = await send('POST', '/files', {
        ...TUS,
        ...OCTETS,
        'upload-length': String(data.length + 10),
        ...(sized ? { 'content-length': String(data.length) } : {}),
      }, data)
      expect(res.status).toBe(201)
      expect(res.headers['upload-offset']).toBe(String(data.length))
      const location = String(res.headers.location)
      expect(location.startsWith(`${scheme}://`)).toBe(true)
      const id = decodeURIComponent(location.split('/').pop()!)
      expect(sha256(await storedBytes(uploads, id))).toBe(sha256(data))
    })

    it('terminates an upload (DELETE)', async () => {
      const { path } = await create(10)
      expect((await send('DELETE', path, TUS)).status).toBe(204)
      expect((await send('HEAD', path, TUS)).status).toBe(404)
    })

    it('serves a byte range of an upload (GET, 206)', async () => {
      const data = randomData(10_000)
      const { path } = await create(data.length)
      await send('PATCH', path, { ...TUS, ...OCTETS, 'upload-offset': '0' }, data)
      const res = await send('GET', path, { range: 'bytes=100-4099' })
      expect(res.status).toBe(206)
      expect(res.headers['content-range']).toBe(`bytes 100-4099/${data.length}`)
      expect(res.headers['content-length']).toBe('4000')
      expect(sha256(res.body)).toBe(sha256(data.subarray(100, 4100)))
      const whole = await send('GET', path)
      expect(whole.status).toBe(200)
      expect(sha256(whole.body)).toBe(sha256(data))
    })

    it.each([
      ['declared by Content-Length', true],
      ['found while reading a body without Content-Length', false],
    ])('refuses a body past Upload-Length with 413 and no Connection header, %s', async (_name, sized) => {
      const data = randomData(100_000)
      const { path } = await create(1000)
      const res = await send('PATCH', path, { ...TUS, ...OCTETS, 'upload-offset': '0', ...(sized ? { 'content-length': String(data.length) } : {}) }, data)
      expect(res.status).toBe(413)
      expect((await send('HEAD', path, TUS)).headers['upload-offset']).toBe('0')
    })

    it('answers a misplaced method with 405 and no Connection header', async () => {
      const res = await send('PATCH', '/files', { ...TUS, ...OCTETS, 'upload-offset': '0' }, randomData(100_000))
      expect(res.status).toBe(405)
      expect(res.headers.allow).toBe('POST, OPTIONS')
    })

    it('answers an unsupported version with 412', async () => {
      const { path } = await create(10)
      const res = await send('PATCH', path, { 'tus-resumable': '0.2.0', ...OCTETS, 'upload-offset': '0' }, 'abc')
      expect(res.status).toBe(412)
    })

    describe.each([
      ['with Content-Length', true],
      ['without Content-Length (staged)', false],
    ])('a stream reset mid-PATCH, %s', (_name, sized) => {
      it('keeps the bytes that reached the store, releases the lock, and the session serves on', async () => {
        const data = randomData(256 * 1024)
        const { id, path } = await create(data.length)
        const first = 96 * 1024
        const stream = session.request({
          ':method': 'PATCH',
          ':path': path,
          ...TUS,
          ...OCTETS,
          'upload-offset': '0',
          ...(sized ? { 'content-length': String(data.length) } : {}),
        })
        stream.on('error', () => {})
        const closed = new Promise<void>((resolve) => stream.on('close', resolve))
        stream.write(data.subarray(0, first))
        // Every byte sent so far has been handed to the store before the client cuts the stream.
        await until(() => (store.written.get(id) ?? 0) === first)
        stream.close(http2.constants.NGHTTP2_CANCEL)
        await closed
        await until(() => locker.held === 0)

        const head = await send('HEAD', path, TUS)
        expect(head.status).toBe(200)
        expect(head.headers['upload-offset']).toBe(String(first))
        expect(sha256(await storedBytes(uploads, id))).toBe(sha256(data.subarray(0, first)))

        const rest = await send('PATCH', path, { ...TUS, ...OCTETS, 'upload-offset': String(first) }, data.subarray(first))
        expect(rest.status).toBe(204)
        expect(rest.headers['upload-offset']).toBe(String(data.length))
        expect(sha256(await storedBytes(uploads, id))).toBe(sha256(data))
        expect(session.destroyed).toBe(false)
      })
    })

    it('holds back a large body while the store is behind (pause and resume of the request)', async () => {
      const slow = new MemoryStore()
      const write = slow.write.bind(slow)
      slow.write = async (id, offset, body, options) => {
        // The first chunks queue up (past the reader's high-water mark) before the store starts reading.
        await new Promise((resolve) => setTimeout(resolve, 300))
        return write(id, offset, body, options)
      }
      const big = tus({ store: slow, path: '/files' })
      const other = await serveH2((req, res) => big(req, res), transport === 'tls')
      try {
        const client = other.connect()
        const data = randomData(3 * 1024 * 1024)
        const created = await request(client, 'POST', '/files', { ...TUS, 'upload-length': String(data.length) })
        const path = new URL(String(created.headers.location)).pathname
        const res = await request(client, 'PATCH', path, { ...TUS, ...OCTETS, 'upload-offset': '0' }, data)
        expect(res.status).toBe(204)
        expect(res.headers['upload-offset']).toBe(String(data.length))
        expect(sha256(await storedBytes(big, decodeURIComponent(path.split('/').pop()!)))).toBe(sha256(data))
      } finally {
        await other.close()
        big.close()
      }
    })

    it('serves several uploads at once on one session', async () => {
      const datas = [randomData(50_000), randomData(70_000), randomData(30_000)]
      const made = await Promise.all(datas.map((d) => create(d.length)))
      const results = await Promise.all(made.map((m, i) => send('PATCH', m.path, { ...TUS, ...OCTETS, 'upload-offset': '0' }, datas[i])))
      expect(results.map((r) => r.status)).toEqual([204, 204, 204])
      for (const [i, m] of made.entries()) expect(sha256(await storedBytes(uploads, m.id))).toBe(sha256(datas[i]))
    })

    if (transport === 'tls') {
      it('still serves HTTP/1.1 clients (allowHTTP1)', async () => {
        const http1 = (method: string, path: string, headers: Record<string, string>, body?: Buffer) =>
          new Promise<{ status: number; headers: Record<string, unknown> }>((resolve, reject) => {
            const req = https.request(`${served.origin}${path}`, { method, headers, rejectUnauthorized: false, agent: false }, (res) => {
              res.resume()
              res.on('end', () => resolve({ status: res.statusCode!, headers: res.headers }))
            })
            req.on('error', reject)
            req.end(body)
          })
        const data = randomData(20_000)
        const created = await http1('POST', '/files', { ...TUS, 'upload-length': String(data.length) })
        expect(created.status).toBe(201)
        const location = String(created.headers.location)
        expect(location.startsWith(`${served.origin}/files/`)).toBe(true)
        const path = new URL(location).pathname
        const id = decodeURIComponent(path.split('/').pop()!)
        const patched = await http1('PATCH', path, { ...TUS, ...OCTETS, 'upload-offset': '0', 'content-length': String(data.length) }, data)
        expect(patched.status).toBe(204)
        expect(patched.headers['upload-offset']).toBe(String(data.length))
        expect(sha256(await storedBytes(uploads, id))).toBe(sha256(data))
      })
    }

    it('never tried to set a connection-specific header, and nothing went unhandled', () => {
      // node:http2's compatibility API drops such headers with an UnsupportedWarning.
      expect(warnings.filter((w) => /connection header/i.test(w))).toEqual([])
      expect(rejections).toEqual([])
      expect(failures).toEqual([])
      expect(locker.held).toBe(0)
    })
  })
}

describe('tus over node:http2 mounted in Connect', () => {
  it('creates and patches an upload, with Location under the mount path', async () => {
    const uploads = tus({ store: new MemoryStore() })
    const app = connect()
    app.use('/api/files', uploads)
    // Connect's types know only node:http requests; at run time it passes the HTTP/2 ones through untouched.
    const served = await serveH2(app as never, false)
    try {
      const session = served.connect()
      const created = await request(session, 'POST', '/api/files', { ...TUS, 'upload-length': '5' })
      expect(created.status).toBe(201)
      const location = String(created.headers.location)
      expect(location.startsWith(`${served.origin}/api/files/`)).toBe(true)
      const patched = await request(session, 'PATCH', new URL(location).pathname, { ...TUS, ...OCTETS, 'upload-offset': '0' }, 'hello')
      expect(patched.status).toBe(204)
      expect(patched.headers['upload-offset']).toBe('5')
    } finally {
      await served.close()
      uploads.close()
    }
  })
})
