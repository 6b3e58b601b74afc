import request from 'supertest'
import { describe, expect, it } from 'vitest'
import { makeApp } from '../helpers/app.js'
import { randomData, sha256 } from '../helpers/bytes.js'
import { OCTET, pathOf, TUS } from '../helpers/tus.js'

async function create(app: Parameters<typeof request>[0], length?: number): Promise<string> {
  const res = await request(app).post('/files').set(TUS)
    .set(length === undefined ? { 'Upload-Defer-Length': '1' } : { 'Upload-Length': String(length) }).expect(201)
  return pathOf(res.headers.location)
}

const patch = (app: Parameters<typeof request>[0], path: string, offset: number | string, body: Buffer) =>
  request(app).patch(path).set(TUS).set(OCTET).set('Upload-Offset', String(offset)).send(body)

describe('OPTIONS (spec: core, OPTIONS)', () => {
  it('answers 204 with Tus-Version and Tus-Extension, without needing Tus-Resumable', async () => {
    const { app } = makeApp()
    for (const path of ['/files', '/files/', '/files/someid']) {
      const res = await request(app).options(path).expect(204)
      expect(res.headers['tus-version']).toBe('1.0.0')
      expect(res.headers['tus-resumable']).toBe('1.0.0')
      expect(res.headers['tus-extension']?.split(',')).toEqual(
        expect.arrayContaining(['creation', 'creation-with-upload', 'creation-defer-length', 'termination']),
      )
    }
  })

  it('ignores an unsupported Tus-Resumable on OPTIONS', async () => {
    const { app } = makeApp()
    await request(app).options('/files').set('Tus-Resumable', '0.0.1').expect(204)
  })
})

describe('Tus-Resumable (spec: core, Tus-Resumable)', () => {
  it.each([['missing', undefined], ['unsupported', '0.2.2'], ['garbage', 'x']])(
    'answers 412 with Tus-Version when it is %s, and does not process the request',
    async (_n, version) => {
      const { app, uploads } = makeApp()
      let created = 0
      uploads.on('created', () => created++)
      const req = request(app).post('/files').set('Upload-Length', '5')
      if (version) req.set('Tus-Resumable', version)
      const res = await req.expect(412)
      expect(res.headers['tus-version']).toBe('1.0.0')
      expect(created).toBe(0)
    },
  )
})

describe('HEAD (spec: core, HEAD)', () => {
  it('reports offset 0 and the length, with Cache-Control: no-store', async () => {
    const { app } = makeApp()
    const path = await create(app, 10)
    const res = await request(app).head(path).set(TUS).expect(200)
    expect(res.headers['upload-offset']).toBe('0')
    expect(res.headers['upload-length']).toBe('10')
    expect(res.headers['cache-control']).toBe('no-store')
    expect(res.headers['upload-metadata']).toBeUndefined()
  })

  it('answers 404 without Upload-Offset for an unknown upload', async () => {
    const { app } = makeApp()
    const res = await request(app).head('/files/0123456789abcdef0123456789abcdef').set(TUS).expect(404)
    expect(res.headers['upload-offset']).toBeUndefined()
  })

  it('answers 404 for ids that try to leave the store', async () => {
    const { app } = makeApp()
    for (const id of ['..%2F..%2Fetc%2Fpasswd', '%2e%2e', 'a%00b', '..%5Cwin', 'x'.repeat(300), '%E0%A4%A']) {
      await request(app).head(`/files/${id}`).set(TUS).expect(404)
    }
  })
})

describe('PATCH (spec: core, PATCH)', () => {
  it('appends at the offset, answers 204 with the new offset, and stores the exact bytes', async () => {
    const { app, uploads } = makeApp()
    const data = randomData(200_000)
    const path = await create(app, data.length)
    await patch(app, path, 0, data.subarray(0, 70_000)).expect(204).expect('Upload-Offset', '70000')
    await request(app).head(path).set(TUS).expect('Upload-Offset', '70000')
    await patch(app, path, 70_000, data.subarray(70_000)).expect(204).expect('Upload-Offset', '200000')
    const stored = Buffer.concat(await (await uploads.store.read!(path.split('/').pop()!)).toArray())
    expect(sha256(stored)).toBe(sha256(data))
  })

  it('answers 409 on an offset mismatch and leaves the upload unchanged', async () => {
    const { app } = makeApp()
    const path = await create(app, 10)
    await patch(app, path, 0, Buffer.from('abc')).expect(204)
    await patch(app, path, 0, Buffer.from('xyz')).expect(409)
    await patch(app, path, 5, Buffer.from('xyz')).expect(409)
    await request(app).head(path).set(TUS).expect('Upload-Offset', '3')
    const body = await request(app).get(path).buffer(true).parse((res, cb) => {
      const parts: Buffer[] = []
      res.on('data', (c: Buffer) => parts.push(c)).on('end', () => cb(null, Buffer.concat(parts)))
    })
    expect(body.body.toString()).toBe('abc')
  })

  it.each([
    ['no Content-Type', {}, 415],
    ['another Content-Type', { 'Content-Type': 'application/octet-stream' }, 415],
  ])('answers 415 with %s', async (_n, headers, status) => {
    const { app } = makeApp()
    const path = await create(app, 10)
    await request(app).patch(path).set(TUS).set(headers).set('Upload-Offset', '0').send(Buffer.from('abc')).expect(status)
    await request(app).head(path).set(TUS).expect('Upload-Offset', '0')
  })

  it.each([['missing', undefined], ['negative', '-1'], ['hex', '0x0'], ['spaced', '1 0'], ['signed', '+0'], ['huge', '99999999999999999999']])(
    'answers 400 for a %s Upload-Offset',
    async (_n, offset) => {
      const { app } = makeApp()
      const path = await create(app, 10)
      const req = request(app).patch(path).set(TUS).set(OCTET)
      if (offset !== undefined) req.set('Upload-Offset', offset)
      await req.send(Buffer.from('abc')).expect(400)
      await request(app).head(path).set(TUS).expect('Upload-Offset', '0')
    },
  )

  it('answers 404 for an unknown upload', async () => {
    const { app } = makeApp()
    await patch(app, '/files/0123456789abcdef0123456789abcdef', 0, Buffer.from('a')).expect(404)
  })

  it('refuses a body past Upload-Length with 413 and stores none of it', async () => {
    const { app } = makeApp()
    const path = await create(app, 5)
    await patch(app, path, 0, Buffer.from('ab')).expect(204)
    await patch(app, path, 2, Buffer.from('cdefgh')).expect(413)
    await request(app).head(path).set(TUS).expect('Upload-Offset', '2')
  })

  it('refuses a non-empty PATCH to a finished upload with 413', async () => {
    const { app } = makeApp()
    const path = await create(app, 2)
    await patch(app, path, 0, Buffer.from('ab')).expect(204)
    await patch(app, path, 2, Buffer.from('c')).expect(413)
    await request(app).head(path).set(TUS).expect('Upload-Offset', '2')
  })
})

describe('PATCH with a deferred length (spec: creation-defer-length)', () => {
  it('sets the length once, then completes', async () => {
    const { app, uploads } = makeApp()
    const done: number[] = []
    uploads.on('completed', (u) => done.push(u.length!))
    const path = await create(app)
    await patch(app, path, 0, Buffer.from('hello')).expect(204).expect('Upload-Offset', '5')
    await request(app).head(path).set(TUS).expect('Upload-Defer-Length', '1')
    await patch(app, path, 5, Buffer.from(' world')).set('Upload-Length', '11').expect(204).expect('Upload-Offset', '11')
    const head = await request(app).head(path).set(TUS).expect(200)
    expect(head.headers['upload-length']).toBe('11')
    expect(head.headers['upload-defer-length']).toBeUndefined()
    expect(done).toEqual([11])
  })

  it('refuses to change a length once set, or to set it below the offset', async () => {
    const { app } = makeApp()
    const path = await create(app)
    await patch(app, path, 0, Buffer.from('hello')).set('Upload-Length', '20').expect(204)
    await patch(app, path, 5, Buffer.from('x')).set('Upload-Length', '21').expect(400)
    await patch(app, path, 5, Buffer.from('x')).set('Upload-Length', '20').expect(204)
    const other = await create(app)
    await patch(app, other, 0, Buffer.from('hello')).expect(204)
    await patch(app, other, 5, Buffer.alloc(0)).set('Upload-Length', '3').expect(400)
    await request(app).head(other).set(TUS).expect('Upload-Defer-Length', '1')
  })

  it('refuses a deferred upload that grows past maxSize with 413', async () => {
    const { app } = makeApp({ maxSize: 8 })
    const path = await create(app)
    await patch(app, path, 0, Buffer.from('12345')).expect(204)
    await patch(app, path, 5, Buffer.from('6789')).expect(413)
    await patch(app, path, 5, Buffer.alloc(0)).set('Upload-Length', '9').expect(413)
    await request(app).head(path).set(TUS).expect('Upload-Offset', '5')
  })
})

describe('DELETE (spec: termination)', () => {
  it('answers 204, removes the upload, and later requests get 404', async () => {
    const { app, uploads } = makeApp()
    const terminated: string[] = []
    uploads.on('terminated', (u) => terminated.push(u.id))
    const path = await create(app, 10)
    await patch(app, path, 0, Buffer.from('abc')).expect(204)
    await request(app).delete(path).set(TUS).expect(204).expect('Tus-Resumable', '1.0.0')
    await request(app).head(path).set(TUS).expect(404)
    await patch(app, path, 3, Buffer.from('d')).expect(404)
    await request(app).delete(path).set(TUS).expect(404)
    expect(terminated).toEqual([path.split('/').pop()])
  })
})

describe('routing', () => {
  it('passes requests it does not serve to next()', async () => {
    const { app } = makeApp()
    await request(app).get('/files').expect(404, 'app 404')
    await request(app).put('/files/abc').set(TUS).expect(404, 'app 404')
    await request(app).head('/files/a/b').set(TUS).expect(404)
    await request(app).get('/other').expect(404, 'app 404')
  })

  it('honours X-HTTP-Method-Override (spec: core, X-HTTP-Method-Override)', async () => {
    const { app } = makeApp()
    const path = await create(app, 3)
    await request(app).post(path).set(TUS).set(OCTET).set('X-HTTP-Method-Override', 'PATCH').set('Upload-Offset', '0')
      .send(Buffer.from('abc')).expect(204).expect('Upload-Offset', '3')
    await request(app).post(path).set(TUS).set('X-HTTP-Method-Override', 'DELETE').expect(204)
    await request(app).head(path).set(TUS).expect(404)
    await request(app).post('/files').set(TUS).set('X-HTTP-Method-Override', 'TRACE').set('Upload-Length', '1').expect(400)
  })
})
