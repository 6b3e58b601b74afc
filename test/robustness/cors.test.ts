/**
 * CORS: off by default; when configured, preflights are answered for the tus methods and headers, allowed
 * origins can read every header a tus client needs, other origins get no CORS headers.
 */
import express from 'express'
import request from 'supertest'
import { describe, expect, it } from 'vitest'
import { MemoryStore, tus, type TusOptions } from 'tus-middleware'

const app = (options: Partial<TusOptions> = {}) => {
  const a = express()
  a.use('/files', tus({ store: new MemoryStore(), ...options }))
  return a
}
const SITE = 'https://app.example.com'
const preflight = (target: ReturnType<typeof app>, origin = SITE, path = '/files') =>
  request(target)
    .options(path)
    .set('Origin', origin)
    .set('Access-Control-Request-Method', 'PATCH')
    .set('Access-Control-Request-Headers', 'tus-resumable, upload-offset, content-type')

describe('CORS', () => {
  it('adds no CORS headers unless configured', async () => {
    const res = await preflight(app())
    expect(res.status).toBe(204)
    expect(Object.keys(res.headers).filter((h) => h.startsWith('access-control-'))).toEqual([])
    const post = await request(app()).post('/files').set('Origin', SITE).set('Tus-Resumable', '1.0.0').set('Upload-Length', '1')
    expect(post.headers['access-control-allow-origin']).toBeUndefined()
  })

  it('answers a preflight from an allowed origin with the tus methods and request headers', async () => {
    const res = await preflight(app({ cors: { origin: [SITE], maxAge: 600 } }), SITE, '/files/abc')
    expect(res.status).toBe(204)
    expect(res.headers['access-control-allow-origin']).toBe(SITE)
    expect(res.headers.vary).toMatch(/Origin/)
    const methods = res.headers['access-control-allow-methods'].split(/,\s*/)
    expect(methods).toEqual(expect.arrayContaining(['POST', 'HEAD', 'PATCH', 'DELETE', 'GET', 'OPTIONS']))
    const allowed = res.headers['access-control-allow-headers'].toLowerCase().split(/,\s*/)
    for (const h of ['tus-resumable', 'upload-offset', 'upload-length', 'upload-metadata', 'upload-defer-length',
      'upload-concat', 'upload-checksum', 'content-type', 'x-http-method-override']) expect(allowed).toContain(h)
    expect(res.headers['access-control-max-age']).toBe('600')
    expect(res.headers['access-control-allow-credentials']).toBeUndefined()
  })

  it('exposes Location, Upload-Offset, Upload-Length, Tus-* and the rest on actual responses', async () => {
    const target = app({ cors: { origin: [SITE], exposedHeaders: ['X-Request-Id'] } })
    const post = await request(target).post('/files').set('Origin', SITE).set('Tus-Resumable', '1.0.0').set('Upload-Length', '3')
    expect(post.status).toBe(201)
    expect(post.headers['access-control-allow-origin']).toBe(SITE)
    const exposed = post.headers['access-control-expose-headers'].toLowerCase().split(/,\s*/)
    for (const h of ['location', 'upload-offset', 'upload-length', 'upload-metadata', 'upload-expires', 'tus-resumable',
      'tus-version', 'tus-extension', 'tus-max-size', 'upload-defer-length', 'x-request-id']) expect(exposed).toContain(h)
    // Errors carry the headers too, so the browser lets the client read the status.
    const err = await request(target).head('/files/missing').set('Origin', SITE).set('Tus-Resumable', '1.0.0')
    expect(err.status).toBe(404)
    expect(err.headers['access-control-allow-origin']).toBe(SITE)
  })

  it('gives an origin that is not allowed no CORS headers, and still answers a tus OPTIONS per spec', async () => {
    const target = app({ cors: { origin: [SITE] } })
    const res = await preflight(target, 'https://evil.example')
    expect(res.headers['access-control-allow-origin']).toBeUndefined()
    expect(res.headers['access-control-allow-methods']).toBeUndefined()
    const tusOptions = await request(target).options('/files').set('Origin', 'https://evil.example')
    expect(tusOptions.status).toBe(204)
    expect(tusOptions.headers['tus-version']).toBe('1.0.0')
    expect(tusOptions.headers['tus-extension']).toContain('creation')
  })

  it('supports a function deciding per origin, and credentials (never with a wildcard)', async () => {
    const target = app({ cors: { origin: (o) => o.endsWith('.example.com'), credentials: true } })
    const ok = await preflight(target, 'https://a.example.com')
    expect(ok.headers['access-control-allow-origin']).toBe('https://a.example.com')
    expect(ok.headers['access-control-allow-credentials']).toBe('true')
    expect((await preflight(target, 'https://example.org')).headers['access-control-allow-origin']).toBeUndefined()
    expect(() => tus({ store: new MemoryStore(), cors: { origin: '*', credentials: true } })).toThrow(/cors\.origin/)
    expect(() => tus({ store: new MemoryStore(), cors: { origin: ['app.example.com'] } })).toThrow(/cors\.origin/)
    expect(() => tus({ store: new MemoryStore(), cors: { origin: [SITE], allowedHeaders: ['bad header'] } as never })).toThrow(
      /cors\.allowedHeaders/,
    )
  })

  it("with origin '*' answers every origin with '*' and no Vary", async () => {
    const res = await preflight(app({ cors: { origin: '*' } }), 'https://anywhere.example')
    expect(res.headers['access-control-allow-origin']).toBe('*')
    expect(res.headers.vary).toBeUndefined()
  })

  it('a throwing origin function is a refusal, not a crash', async () => {
    const res = await preflight(app({ cors: { origin: () => { throw new Error('boom') } } }))
    expect(res.status).toBe(204)
    expect(res.headers['access-control-allow-origin']).toBeUndefined()
  })
})
