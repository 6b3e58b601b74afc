/** The 104 interim response over HTTP/2 (cleartext h2c): an additional HEADERS frame before the final one. */
import type { IncomingHttpHeaders } from 'node:http2'
import { expect, it } from 'vitest'
import { MemoryStore, tus } from 'tus-middleware'
import { randomData } from '../helpers/bytes.js'
import { useCleanup } from '../helpers/cleanup.js'
import { serveH2 } from '../helpers/h2.js'

const defer = useCleanup()

it('sends 104 with Location and the interop version before the body, then 201', async () => {
  const store = new MemoryStore()
  const uploads = tus({ store, path: '/files' })
  const served = await serveH2((req, res) => uploads(req, res), false)
  defer(() => served.close(), () => uploads.close())
  const session = served.connect()
  const stream = session.request({
    ':method': 'POST', ':path': '/files', 'upload-draft-interop-version': '6', 'upload-complete': '?1', 'content-length': '1000',
  }, { endStream: false })
  const interim = await new Promise<IncomingHttpHeaders>((resolve) => stream.once('headers', resolve))
  expect(interim[':status']).toBe(104)
  expect(interim['upload-draft-interop-version']).toBe('6')
  expect(String(interim.location)).toMatch(/\/files\/[^/]+$/)
  const final = new Promise<IncomingHttpHeaders>((resolve) => stream.once('response', resolve))
  stream.end(randomData(1000))
  const response = await final
  expect(response[':status']).toBe(201)
  expect(response['upload-complete']).toBe('?1')
  expect(response.location).toBe(interim.location)
  stream.resume()
})
