import request from 'supertest'
import { describe, expect, it } from 'vitest'
import { makeApp } from '../helpers/app.js'
import { sha256 } from '../helpers/bytes.js'
import { pathOf, TUS } from '../helpers/tus.js'

describe('POST (spec: creation)', () => {
  it('creates an upload: 201 with an absolute Location below the mount path', async () => {
    const { app, uploads } = makeApp()
    const res = await request(app).post('/files').set(TUS).set('Upload-Length', '100').expect(201)
    expect(res.headers['tus-resumable']).toBe('1.0.0')
    expect(res.headers.location).toMatch(/^http:\/\/127\.0\.0\.1:\d+\/files\/[0-9a-f]{32}$/)
    const id = res.headers.location.split('/').pop() as string
    expect(await uploads.store.get(id)).toMatchObject({ id, offset: 0, length: 100, metadata: {} })
  })

  it('answers a path-only Location with relativeLocation', async () => {
    const { app } = makeApp({ relativeLocation: true })
    const res = await request(app).post('/files').set(TUS).set('Upload-Length', '1').expect(201)
    expect(res.headers.location).toMatch(/^\/files\/[0-9a-f]{32}$/)
  })

  it('stores the metadata and echoes it on HEAD', async () => {
    const { app } = makeApp()
    const header = 'filename d29ybGRfZG9taW5hdGlvbl9wbGFuLnBkZg==,is_confidential'
    const created = await request(app).post('/files').set(TUS).set('Upload-Length', '5').set('Upload-Metadata', header).expect(201)
    const head = await request(app).head(pathOf(created.headers.location)).set(TUS).expect(200)
    expect(head.headers['upload-metadata']).toBe(header)
  })

  it('gives every upload a different 128-bit id', async () => {
    const { app } = makeApp()
    const ids = new Set<string>()
    for (let i = 0; i < 20; i++) {
      const res = await request(app).post('/files').set(TUS).set('Upload-Length', '1').expect(201)
      ids.add(res.headers.location.split('/').pop() as string)
    }
    expect(ids.size).toBe(20)
  })

  it('creates a deferred-length upload and reports Upload-Defer-Length on HEAD', async () => {
    const { app } = makeApp()
    const created = await request(app).post('/files').set(TUS).set('Upload-Defer-Length', '1').expect(201)
    const head = await request(app).head(pathOf(created.headers.location)).set(TUS).expect(200)
    expect(head.headers['upload-defer-length']).toBe('1')
    expect(head.headers['upload-length']).toBeUndefined()
  })

  it('completes a zero-length upload at once and fires completed once', async () => {
    const { app, uploads } = makeApp()
    const completed: string[] = []
    uploads.on('completed', (u) => completed.push(u.id))
    const created = await request(app).post('/files').set(TUS).set('Upload-Length', '0').expect(201)
    const id = created.headers.location.split('/').pop()
    await request(app).head(pathOf(created.headers.location)).set(TUS).expect(200).expect('Upload-Offset', '0')
    expect(completed).toEqual([id])
  })

  it.each([
    ['no Upload-Length nor Upload-Defer-Length', {}, 400],
    ['both Upload-Length and Upload-Defer-Length', { 'Upload-Length': '5', 'Upload-Defer-Length': '1' }, 400],
    ['Upload-Defer-Length other than 1', { 'Upload-Defer-Length': '2' }, 400],
    ['a negative length', { 'Upload-Length': '-1' }, 400],
    ['a length in exponent form', { 'Upload-Length': '1e3' }, 400],
    ['malformed metadata', { 'Upload-Length': '5', 'Upload-Metadata': 'a !!' }, 400],
    ['a body with another media type', { 'Upload-Length': '5', 'Content-Type': 'text/plain' }, 415],
  ])('refuses %s and stores nothing', async (_name, headers, status) => {
    const { app, uploads } = makeApp()
    let created = 0
    uploads.on('created', () => created++)
    const res = await request(app).post('/files').set(TUS).set(headers as Record<string, string>).send(
      (headers as Record<string, string>)['Content-Type'] ? 'hello' : undefined,
    )
    expect(res.status).toBe(status)
    expect(res.headers['tus-resumable']).toBe('1.0.0')
    expect(res.headers.location).toBeUndefined()
    expect(created).toBe(0)
  })

  it('refuses a length over maxSize with 413 and advertises Tus-Max-Size', async () => {
    const { app } = makeApp({ maxSize: 1000 })
    await request(app).post('/files').set(TUS).set('Upload-Length', '1001').expect(413)
    await request(app).post('/files').set(TUS).set('Upload-Length', '1000').expect(201)
    const options = await request(app).options('/files').expect(204)
    expect(options.headers['tus-max-size']).toBe('1000')
  })

  it('applies a per-request maxSize function', async () => {
    const { app } = makeApp({ maxSize: (req) => (req.headers['x-plan'] === 'pro' ? 10_000 : 10) })
    await request(app).post('/files').set(TUS).set('Upload-Length', '100').expect(413)
    await request(app).post('/files').set(TUS).set('X-Plan', 'pro').set('Upload-Length', '100').expect(201)
    const options = await request(app).options('/files').expect(204)
    expect(options.headers['tus-max-size']).toBeUndefined()
  })
})

describe('POST with data (spec: creation-with-upload)', () => {
  it('stores the body and answers its Upload-Offset', async () => {
    const { app, uploads } = makeApp()
    const body = Buffer.from('hello world')
    const res = await request(app).post('/files').set(TUS).set('Upload-Length', '20')
      .set('Content-Type', 'application/offset+octet-stream').send(body).expect(201)
    expect(res.headers['upload-offset']).toBe('11')
    const id = res.headers.location.split('/').pop() as string
    const stored = Buffer.concat(await (await uploads.store.read!(id)).toArray())
    expect(sha256(stored)).toBe(sha256(body))
  })

  it('completes an upload sent whole in the POST', async () => {
    const { app, uploads } = makeApp()
    const completed: number[] = []
    uploads.on('completed', (u) => completed.push(u.offset))
    await request(app).post('/files').set(TUS).set('Upload-Length', '5')
      .set('Content-Type', 'application/offset+octet-stream').send(Buffer.from('hello')).expect(201).expect('Upload-Offset', '5')
    expect(completed).toEqual([5])
  })

  it('refuses a body longer than Upload-Length with 413 and creates nothing', async () => {
    const { app, uploads } = makeApp()
    let created = 0
    uploads.on('created', () => created++)
    await request(app).post('/files').set(TUS).set('Upload-Length', '3')
      .set('Content-Type', 'application/offset+octet-stream').send(Buffer.from('hello')).expect(413)
    expect(created).toBe(0)
  })
})
