import { afterEach, expect, it } from 'vitest'
import { MemoryStore } from 'tus-middleware'
import { sha256 } from '../helpers/bytes.js'
import { createUpload, head, send } from '../helpers/http.js'
import { startServer, type TestServer } from '../helpers/server.js'
import { idOf, OCTET, TUS } from '../helpers/tus.js'

// spec: core, X-HTTP-Method-Override: the header is the method of a POST. Only a POST is overridden (as tusd
// does): a GET, which hosts, proxies and caches treat as safe, never turns into a PATCH or a DELETE.
let server: TestServer
let store: MemoryStore
afterEach(() => server.close())

async function start(): Promise<void> {
  store = new MemoryStore()
  server = await startServer({ store })
}

it('a POST overridden to PATCH appends bytes', async () => {
  await start()
  const url = await createUpload(server.url, { 'Upload-Length': 5 })
  const res = await send('POST', url, { headers: { ...TUS, ...OCTET, 'Upload-Offset': 0, 'X-HTTP-Method-Override': 'PATCH' }, body: 'hello' })
  expect(res.status).toBe(204)
  expect(res.header('upload-offset')).toBe('5')
  const body = await send('GET', url)
  expect(sha256(body.body)).toBe(sha256('hello'))
})

it('a POST overridden to HEAD reports the offset, and one overridden to DELETE terminates', async () => {
  await start()
  const url = await createUpload(server.url, { 'Upload-Length': 5 })
  const h = await send('POST', url, { headers: { ...TUS, 'X-HTTP-Method-Override': 'HEAD' } })
  expect(h.status).toBe(200)
  expect(h.header('upload-offset')).toBe('0')
  const d = await send('POST', url, { headers: { ...TUS, 'X-HTTP-Method-Override': 'delete' } })
  expect(d.status).toBe(204)
  expect(await store.get(idOf(url))).toBeUndefined()
})

it('ignores the override on any method but POST: a GET asking for DELETE is a GET', async () => {
  await start()
  const url = await createUpload(server.url, { 'Upload-Length': 3 })
  const res = await send('GET', url, { headers: { ...TUS, 'X-HTTP-Method-Override': 'DELETE' } })
  expect(res.status).toBe(200)
  expect(await store.get(idOf(url))).toBeDefined()
  const patch = await send('PATCH', url, { headers: { ...TUS, ...OCTET, 'Upload-Offset': 0, 'X-HTTP-Method-Override': 'DELETE' }, body: 'abc' })
  expect(patch.status).toBe(204)
  expect((await store.get(idOf(url)))!.offset).toBe(3)
})

it('lets the host turn the override off: a POST with it is then a POST', async () => {
  store = new MemoryStore()
  server = await startServer({ store, methodOverride: false })
  const url = await createUpload(server.url, { 'Upload-Length': 5 })
  const res = await send('POST', url, { headers: { ...TUS, 'X-HTTP-Method-Override': 'DELETE' } })
  expect(res.status).toBe(405)
  expect(res.header('allow')).toBe('HEAD, PATCH, DELETE, GET, OPTIONS')
  expect(await store.get(idOf(url))).toBeDefined()
})

it('an overridden PATCH still follows the protocol: 409 on a wrong offset', async () => {
  await start()
  const url = await createUpload(server.url, { 'Upload-Length': 5 })
  const res = await send('POST', url, { headers: { ...TUS, ...OCTET, 'Upload-Offset': 2, 'X-HTTP-Method-Override': 'PATCH' }, body: 'abc' })
  expect(res.status).toBe(409)
  expect((await head(url)).header('upload-offset')).toBe('0')
})

it('responds 400 to an override naming a method the server does not serve, changing nothing', async () => {
  await start()
  const url = await createUpload(server.url, { 'Upload-Length': 5 })
  for (const value of ['PUT', 'TRACE', '']) {
    const res = await send('POST', url, { headers: { ...TUS, ...OCTET, 'Upload-Offset': 0, 'X-HTTP-Method-Override': value }, body: 'abc' })
    expect(res.status).toBe(400)
  }
  expect((await store.get(idOf(url)))!.offset).toBe(0)
})

it('a POST to the collection overridden to OPTIONS describes the server', async () => {
  await start()
  const res = await send('POST', server.url, { headers: { 'X-HTTP-Method-Override': 'OPTIONS' } })
  expect(res.status).toBe(204)
  expect(res.header('tus-version')).toBe('1.0.0')
})
