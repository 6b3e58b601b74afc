import request from 'supertest'
import { describe, expect, it } from 'vitest'
import { makeApp } from '../helpers/app.js'
import { randomData, sha256 } from '../helpers/bytes.js'
import { pathOf, TUS } from '../helpers/tus.js'

const b64 = (s: string) => Buffer.from(s).toString('base64')

async function upload(app: Parameters<typeof request>[0], data: Buffer, metadata?: Record<string, string>): Promise<string> {
  const header = metadata ? Object.entries(metadata).map(([k, v]) => `${k} ${b64(v)}`).join(',') : undefined
  const req = request(app).post('/files').set(TUS).set('Upload-Length', String(data.length))
    .set('Content-Type', 'application/offset+octet-stream')
  if (header) req.set('Upload-Metadata', header)
  const res = await req.send(data).expect(201)
  return pathOf(res.headers.location)
}

const binary = (res: request.Response, cb: (err: Error | null, body: Buffer) => void) => {
  const parts: Buffer[] = []
  res.on('data', (c: Buffer) => parts.push(c)).on('end', () => cb(null, Buffer.concat(parts)))
}

describe('GET an upload', () => {
  it('returns the exact bytes with Content-Length, without needing Tus-Resumable', async () => {
    const { app } = makeApp()
    const data = randomData(123_457)
    const path = await upload(app, data)
    const res = await request(app).get(path).buffer(true).parse(binary).expect(200)
    expect(res.headers['content-length']).toBe(String(data.length))
    expect(sha256(res.body)).toBe(sha256(data))
    expect(res.headers['x-content-type-options']).toBe('nosniff')
  })

  it('serves a safe type inline with its filename', async () => {
    const { app } = makeApp()
    const path = await upload(app, Buffer.from('png-ish'), { filetype: 'image/png', filename: 'cat.png' })
    const res = await request(app).get(path).expect(200)
    expect(res.headers['content-type']).toBe('image/png')
    expect(res.headers['content-disposition']).toBe(`inline; filename="cat.png"; filename*=UTF-8''cat.png`)
  })

  it.each(['text/html', 'image/svg+xml', 'application/javascript', 'text/html; charset=utf-8', 'application/xhtml+xml'])(
    'serves %s as an octet-stream attachment',
    async (filetype) => {
      const { app } = makeApp()
      const path = await upload(app, Buffer.from('<script>alert(1)</script>'), { filetype, filename: 'x.html' })
      const res = await request(app).get(path).expect(200)
      expect(res.headers['content-type']).toBe('application/octet-stream')
      expect(res.headers['content-disposition']).toMatch(/^attachment; /)
    },
  )

  it('keeps a hostile filename from breaking the header', async () => {
    const { app } = makeApp()
    const path = await upload(app, Buffer.from('x'), { filename: 'a"\r\nSet-Cookie: x=1;.txt', filetype: 'text/plain' })
    const res = await request(app).get(path).expect(200)
    expect(res.headers['set-cookie']).toBeUndefined()
    expect(res.headers['content-disposition']).toContain('filename="a___Set-Cookie: x=1;.txt"')
  })

  it('returns the bytes stored so far for an unfinished upload, and 404 for an unknown one', async () => {
    const { app } = makeApp()
    const res = await request(app).post('/files').set(TUS).set('Upload-Length', '10')
      .set('Content-Type', 'application/offset+octet-stream').send(Buffer.from('abcd')).expect(201)
    const got = await request(app).get(pathOf(res.headers.location)).buffer(true).parse(binary).expect(200)
    expect(got.body.toString()).toBe('abcd')
    await request(app).get('/files/0123456789abcdef0123456789abcdef').expect(404)
  })
})
