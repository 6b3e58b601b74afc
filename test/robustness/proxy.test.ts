/**
 * Behind a proxy: Location follows Forwarded / X-Forwarded-* only when the host said to trust them.
 */
import express from 'express'
import request from 'supertest'
import { describe, expect, it } from 'vitest'
import { MemoryStore, tus, type TusOptions } from 'tus-middleware'

const post = (target: express.Express, headers: Record<string, string> = {}) =>
  request(target).post('/files').set({ 'Tus-Resumable': '1.0.0', 'Upload-Length': '1', Host: 'internal:8080', ...headers })

function app(options: Partial<TusOptions> = {}, setup?: (a: express.Express) => void) {
  const a = express()
  setup?.(a)
  a.use('/files', tus({ store: new MemoryStore(), ...options }))
  return a
}

const FORGED = { 'X-Forwarded-Proto': 'https', 'X-Forwarded-Host': 'evil.example', Forwarded: 'proto=https;host=evil.example' }

describe('Location behind a proxy', () => {
  it('ignores forwarding headers by default: any client could forge them', async () => {
    const res = await post(app(), FORGED)
    expect(res.headers.location).toMatch(/^http:\/\/internal:8080\/files\/[0-9a-f]{32}$/)
  })

  it('ignores them when trustProxy is false, even if Express trusts the proxy', async () => {
    const res = await post(app({ trustProxy: false }, (a) => a.set('trust proxy', true)), FORGED)
    expect(res.headers.location).toMatch(/^http:\/\/internal:8080\//)
  })

  it('uses Forwarded (RFC 7239, first element) when trustProxy is true', async () => {
    const res = await post(app({ trustProxy: true }), {
      Forwarded: 'for=1.2.3.4;proto=https;host="uploads.example.com", for=10.0.0.1;proto=http;host=internal',
      'X-Forwarded-Host': 'ignored.example',
    })
    expect(res.headers.location).toMatch(/^https:\/\/uploads\.example\.com\/files\/[0-9a-f]{32}$/)
  })

  it('uses X-Forwarded-Proto / X-Forwarded-Host (first entry) when trustProxy is true', async () => {
    const res = await post(app({ trustProxy: true }), { 'X-Forwarded-Proto': 'https, http', 'X-Forwarded-Host': 'cdn.example.com:8443, proxy' })
    expect(res.headers.location).toMatch(/^https:\/\/cdn\.example\.com:8443\/files\//)
  })

  it("follows Express's trust proxy setting when trustProxy is not set", async () => {
    const trusted = await post(app({}, (a) => a.set('trust proxy', 'loopback')), FORGED)
    expect(trusted.headers.location).toMatch(/^https:\/\/evil\.example\/files\//)
    const untrusted = await post(app({}, (a) => a.set('trust proxy', '10.0.0.0/8')), FORGED)
    expect(untrusted.headers.location).toMatch(/^http:\/\/internal:8080\//)
  })

  it('falls back to the connection when trusted headers carry junk', async () => {
    const res = await post(app({ trustProxy: true }), { 'X-Forwarded-Proto': 'javascript', 'X-Forwarded-Host': 'a b/c' })
    expect(res.headers.location).toMatch(/^http:\/\/internal:8080\/files\//)
  })

  it('takes X-Forwarded-Proto/Host when a trusted Forwarded header names neither', async () => {
    const res = await post(app({ trustProxy: true }), {
      Forwarded: 'for=203.0.113.7',
      'X-Forwarded-Proto': 'https',
      'X-Forwarded-Host': 'up.example.com',
    })
    expect(res.headers.location).toMatch(/^https:\/\/up\.example\.com\/files\//)
  })

  it('rejects a non-boolean trustProxy at factory time', () => {
    expect(() => tus({ store: new MemoryStore(), trustProxy: 'yes' as never })).toThrow(/trustProxy/)
  })
})
