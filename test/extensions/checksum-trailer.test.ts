import { createHash } from 'node:crypto'
import { expect, it } from 'vitest'
import { FileStore } from 'tus-middleware'
import { randomData, sha256 } from '../helpers/bytes.js'
import { useCleanup } from '../helpers/cleanup.js'
import { createUpload, head, send } from '../helpers/http.js'
import { startServer, tempFileStore, type TestServer } from '../helpers/server.js'
import { OCTET, TUS } from '../helpers/tus.js'

const defer = useCleanup()

async function setup(): Promise<{ server: TestServer; store: FileStore }> {
  const { store } = await tempFileStore(defer)
  const server = await startServer({ store })
  defer(server.close)
  return { server, store }
}

const b64 = (algorithm: string, data: Buffer) => createHash(algorithm).update(data).digest('base64')
const stored = async (store: FileStore, url: string): Promise<Buffer> => {
  const parts: Buffer[] = []
  for await (const c of await store.read(url.slice(url.lastIndexOf('/') + 1))) parts.push(c as Buffer)
  return Buffer.concat(parts)
}

function chunkedPatch(url: string, offset: number, pieces: Buffer[], trailers?: Record<string, string>) {
  return send('PATCH', url, { headers: { ...TUS, ...OCTET, 'Upload-Offset': offset }, chunks: pieces, trailers })
}

it('accepts a matching Upload-Checksum trailer on a chunked PATCH', async () => {
  const { server, store } = await setup()
  const data = randomData(200_000)
  const url = await createUpload(server.url, { 'Upload-Length': data.length })
  const pieces = [data.subarray(0, 70_000), data.subarray(70_000, 140_000), data.subarray(140_000)]
  const res = await chunkedPatch(url, 0, pieces, { 'Upload-Checksum': `sha256 ${b64('sha256', data)}` })
  expect(res.status).toBe(204)
  expect(res.header('upload-offset')).toBe(String(data.length))
  expect(sha256(await stored(store, url))).toBe(sha256(data))
})

it('responds 460 to a mismatching trailer and discards the chunk', async () => {
  const { server, store } = await setup()
  const first = randomData(1000)
  const url = await createUpload(server.url, { 'Upload-Length': 3000 })
  expect((await chunkedPatch(url, 0, [first], { 'Upload-Checksum': `sha1 ${b64('sha1', first)}` })).status).toBe(204)
  const res = await chunkedPatch(url, 1000, [randomData(1000)], { 'Upload-Checksum': `sha1 ${b64('sha1', first)}` })
  expect(res.status).toBe(460)
  expect((await head(url)).header('upload-offset')).toBe('1000')
  expect(sha256(await stored(store, url))).toBe(sha256(first))
})

it('responds 400 to a trailer naming an unsupported algorithm, discarding the chunk', async () => {
  const { server, store } = await setup()
  const url = await createUpload(server.url, { 'Upload-Length': 10 })
  const res = await chunkedPatch(url, 0, [Buffer.from('abcde')], { 'Upload-Checksum': 'whirlpool AAAA' })
  expect(res.status).toBe(400)
  expect((await head(url)).header('upload-offset')).toBe('0')
  expect((await stored(store, url)).length).toBe(0)
})

it('responds 400 when the checksum is sent both as a header and as a trailer', async () => {
  const { server } = await setup()
  const data = Buffer.from('abcde')
  const url = await createUpload(server.url, { 'Upload-Length': 10 })
  const res = await send('PATCH', url, {
    headers: { ...TUS, ...OCTET, 'Upload-Offset': 0, 'Upload-Checksum': `sha1 ${b64('sha1', data)}` },
    chunks: [data],
    trailers: { 'Upload-Checksum': `sha1 ${b64('sha1', data)}` },
  })
  expect(res.status).toBe(400)
  expect((await head(url)).header('upload-offset')).toBe('0')
})

it('stores a chunked body without any checksum as usual', async () => {
  const { server, store } = await setup()
  const data = randomData(5000)
  const url = await createUpload(server.url, { 'Upload-Length': 5000 })
  expect((await chunkedPatch(url, 0, [data.subarray(0, 2500), data.subarray(2500)])).status).toBe(204)
  expect(sha256(await stored(store, url))).toBe(sha256(data))
})

it('responds 400 when the announced Upload-Checksum trailer never comes, discarding the chunk', async () => {
  const { server, store } = await setup()
  const url = await createUpload(server.url, { 'Upload-Length': 10 })
  const res = await send('PATCH', url, {
    headers: { ...TUS, ...OCTET, 'Upload-Offset': 0, Trailer: 'Upload-Checksum' },
    chunks: [Buffer.from('abcde')],
  })
  expect(res.status).toBe(400)
  expect((await head(url)).header('upload-offset')).toBe('0')
  expect((await stored(store, url)).length).toBe(0)
})
