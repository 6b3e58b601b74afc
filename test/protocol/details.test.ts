/**
 * Protocol details a strict client or proxy notices: the 460 reason phrase, tus methods on the collection URL,
 * Location without a default port, and checksums ignored where there is no body.
 */
import { afterEach, expect, it } from 'vitest'
import { MemoryStore } from 'tus-middleware'
import { send } from '../helpers/http.js'
import { createUpload, patchHead, rawClient } from '../helpers/raw.js'
import { startServer, type TestServer } from '../helpers/server.js'
import { TUS } from '../helpers/tus.js'

let server: TestServer | undefined
afterEach(async () => {
  await server?.close()
  server = undefined
})

it('answers a checksum mismatch with "460 Checksum Mismatch"', async () => {
  server = await startServer({ store: new MemoryStore() })
  const url = await createUpload(server.url, 3)
  const client = await rawClient(server.origin)
  await client.write(patchHead(new URL(url).pathname, 0, 3, { 'Upload-Checksum': 'sha1 AAAAAAAAAAAAAAAAAAAAAAAAAAA=' }))
  await client.write('abc')
  await client.response
  expect(client.received().split('\r\n')[0]).toBe('HTTP/1.1 460 Checksum Mismatch')
})

it('answers HEAD, PATCH and DELETE on the collection URL as tus requests: 405 with Allow', async () => {
  server = await startServer({ store: new MemoryStore() })
  for (const method of ['HEAD', 'PATCH', 'DELETE']) {
    const res = await send(method, server.url, { headers: TUS })
    expect(res.status).toBe(405)
    expect(res.header('allow')).toBe('POST, OPTIONS')
    expect(res.header('tus-resumable')).toBe('1.0.0')
  }
  // A POST to an upload URL likewise.
  const url = await createUpload(server.url, 3)
  const post = await send('POST', url, { headers: { ...TUS, 'Upload-Length': 3 } })
  expect(post.status).toBe(405)
  expect(post.header('allow')).toBe('HEAD, PATCH, DELETE, GET, OPTIONS')
  // A GET of the collection stays the app's.
  expect((await send('GET', server.url)).status).toBe(404)
})

it('builds Location without the default port of the forwarded scheme', async () => {
  server = await startServer({ store: new MemoryStore(), trustProxy: true })
  for (const [proto, host, expected] of [
    ['https', 'uploads.example.com:443', 'https://uploads.example.com/files/'],
    ['http', 'uploads.example.com:80', 'http://uploads.example.com/files/'],
    ['https', 'uploads.example.com:8443', 'https://uploads.example.com:8443/files/'],
  ]) {
    const res = await send('POST', server.url, { headers: { ...TUS, 'Upload-Length': 1, 'X-Forwarded-Proto': proto, 'X-Forwarded-Host': host } })
    expect(res.status).toBe(201)
    expect(res.header('location').startsWith(expected)).toBe(true)
  }
})

it('ignores Upload-Checksum on a creation without a body, as sent by real command-line clients', async () => {
  server = await startServer({ store: new MemoryStore() })
  for (const checksum of ['sha1 not-base64!', 'whirlpool AAAA', 'sha1']) {
    const res = await send('POST', server.url, { headers: { ...TUS, 'Upload-Length': 5, 'Upload-Checksum': checksum } })
    expect(res.status).toBe(201)
  }
  // With a body it is still checked.
  const withBody = await send('POST', server.url, {
    headers: { ...TUS, 'Upload-Length': 5, 'Upload-Checksum': 'sha1 not-base64!', 'Content-Type': 'application/offset+octet-stream' },
    body: 'hello',
  })
  expect(withBody.status).toBe(400)
})
