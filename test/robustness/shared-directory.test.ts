/**
 * Two middleware instances on one FileStore directory (each with its own store object and cacheSize 0, as two
 * processes have): one never cuts, counts or uses the bytes the other is still verifying.
 */
import { createHash } from 'node:crypto'
import { readFile } from 'node:fs/promises'
import { join } from 'node:path'
import { afterEach, expect, it } from 'vitest'
import { FileStore } from 'tus-middleware'
import { randomData, sha256 } from '../helpers/bytes.js'
import { useCleanup } from '../helpers/cleanup.js'
import { createUpload, headOffset, patch, patchHead, rawClient, sleep } from '../helpers/raw.js'
import { startServer, tempDir, type TestServer } from '../helpers/server.js'
import { idOf, TUS } from '../helpers/tus.js'

const defer = useCleanup()
const servers: TestServer[] = []
afterEach(async () => {
  while (servers.length) await servers.pop()!.close()
})

async function twoServers(): Promise<{ a: TestServer; b: TestServer; dir: string }> {
  const dir = await tempDir()
  defer(dir.remove)
  const a = await startServer({ store: new FileStore({ directory: dir.path, cacheSize: 0 }) })
  const b = await startServer({ store: new FileStore({ directory: dir.path, cacheSize: 0 }) })
  servers.push(a, b)
  return { a, b, dir: dir.path }
}

const sha1 = (data: Buffer): string => createHash('sha1').update(data).digest('base64')

it('a second process neither counts nor cuts a checksummed write still streaming into the first', async () => {
  const { a, b, dir } = await twoServers()
  const data = randomData(200_000)
  const url = await createUpload(a.url, data.length)
  expect((await patch(url, 0, data.subarray(0, 100_000))).status).toBe(204)
  const rest = data.subarray(100_000)
  const client = await rawClient(a.origin)
  await client.write(patchHead(new URL(url).pathname, 100_000, rest.length, { 'Upload-Checksum': `sha1 ${sha1(rest)}` }))
  await client.write(rest.subarray(0, 50_000))
  await sleep(100)
  // The second process starts on the directory and looks at the upload mid-write.
  const onB = `${b.url}/${idOf(url)}`
  const seen = await fetch(onB, { method: 'HEAD', headers: TUS })
  expect(seen.status).toBe(200)
  expect(seen.headers.get('upload-offset')).toBe('100000')
  await client.write(rest.subarray(50_000))
  expect((await client.response).status).toBe(204)
  expect((await headOffset(onB)).offset).toBe(200_000)
  expect(sha256(await readFile(join(dir, `${idOf(url)}.bin`)))).toBe(sha256(data))
})

it('a second process never assembles a final from part bytes the first one then refuses', async () => {
  const { a, b } = await twoServers()
  const completed: string[] = []
  for (const s of [a, b]) s.uploads.on('completed', (u) => completed.push(u.id))
  const part = await createUpload(a.url, 10, { 'Upload-Concat': 'partial' })
  // The second process has been serving the directory already (its start-up is behind it).
  expect((await headOffset(`${b.url}/${idOf(part)}`)).offset).toBe(0)
  const client = await rawClient(a.origin)
  const wrong = sha1(Buffer.from('something else'))
  const headers = { Host: 'x', ...TUS, 'Content-Type': 'application/offset+octet-stream', 'Upload-Offset': '0', 'Transfer-Encoding': 'chunked', 'Upload-Checksum': `sha1 ${wrong}` }
  await client.write(`PATCH ${new URL(part).pathname} HTTP/1.1\r\n${Object.entries(headers).map(([k, v]) => `${k}: ${v}\r\n`).join('')}\r\n`)
  await client.write(`a\r\n${'A'.repeat(10)}\r\n`)
  await sleep(100)
  const final = await fetch(b.url, { method: 'POST', headers: { ...TUS, 'Upload-Concat': `final;${new URL(part).pathname}` } })
  expect(final.status).toBe(201)
  const finalUrl = new URL(final.headers.get('location')!, b.url).href
  await client.write('0\r\n\r\n')
  expect((await client.response).status).toBe(460)
  const h = await fetch(finalUrl, { method: 'HEAD', headers: TUS })
  expect(h.status).toBe(200)
  expect(h.headers.get('upload-offset')).toBeNull()
  expect((await headOffset(`${b.url}/${idOf(part)}`)).offset).toBe(0)
  await sleep(50)
  expect(completed).toEqual([])
})
