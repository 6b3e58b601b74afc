// An Upload-Checksum trailer that the request did not announce (no `Trailer: Upload-Checksum`) cannot be
// checked: over HTTP/2 a trailer may follow a body with a Content-Length too, and such a body counts nothing.
import { createHash } from 'node:crypto'
import { afterEach, describe, expect, it } from 'vitest'
import { MemoryStore, tus } from 'tus-middleware'
import { request, serveH2, type H2Served } from '../helpers/h2.js'

let served: H2Served | undefined
afterEach(async () => {
  await served?.close()
  served = undefined
})

const TUS = { 'tus-resumable': '1.0.0' }
const OCTETS = { 'content-type': 'application/offset+octet-stream' }

describe('an unannounced checksum trailer over HTTP/2', () => {
  it('refuses an unannounced Upload-Checksum trailer on a body with Content-Length (400), keeping none of it', async () => {
    const uploads = tus({ store: new MemoryStore(), path: '/files' })
    served = await serveH2((req, res) => uploads(req, res), false)
    const session = served.connect()
    const created = await request(session, 'POST', '/files', { ...TUS, 'upload-length': '10' })
    const path = new URL(String(created.headers.location)).pathname
    const wrong = createHash('sha1').update('something else').digest('base64')
    const res = await request(session, 'PATCH', path, { ...TUS, ...OCTETS, 'upload-offset': '0', 'content-length': '10' }, 'abcdefghij', {
      trailers: { 'upload-checksum': `sha1 ${wrong}` },
    })
    const head = await request(session, 'HEAD', path, TUS)
    expect({ patch: res.status, offset: head.headers['upload-offset'] }).toEqual({ patch: 400, offset: '0' })
  })
})
