import { createHash } from 'node:crypto'
import { connect } from 'node:net'
import { crc32 as zlibCrc32 } from 'node:zlib'
import { describe, expect, it } from 'vitest'
import { FileStore, MemoryStore } from 'tus-middleware'
import { crc32Table } from '../../lib/protocol/crc32.js'
import { randomData, sha256 } from '../helpers/bytes.js'
import { useCleanup } from '../helpers/cleanup.js'
import { createUpload, head, patch, send } from '../helpers/http.js'
import { startServer, tempFileStore, type TestServer } from '../helpers/server.js'
import { idOf, OCTET, TUS } from '../helpers/tus.js'

const digest = (algorithm: string, data: Buffer): string => {
  if (algorithm === 'crc32') {
    const out = Buffer.alloc(4)
    out.writeUInt32BE(zlibCrc32(data))
    return out.toString('base64')
  }
  return createHash(algorithm).update(data).digest('base64')
}

const defer = useCleanup()

async function fileServer(): Promise<{ server: TestServer; store: FileStore }> {
  const { store } = await tempFileStore(defer)
  const server = await startServer({ store })
  defer(server.close)
  return { server, store }
}

async function readAll(store: FileStore | MemoryStore, id: string): Promise<Buffer> {
  const parts: Buffer[] = []
  for await (const chunk of await store.read(id)) parts.push(chunk as Buffer)
  return Buffer.concat(parts)
}

describe('checksum', () => {
  it('advertises checksum and every supported algorithm in OPTIONS', async () => {
    const { server } = await fileServer()
    const res = await send('OPTIONS', server.url)
    expect(res.header('tus-extension').split(',')).toEqual(expect.arrayContaining(['checksum', 'checksum-trailer']))
    expect(res.header('tus-checksum-algorithm').split(',').sort()).toEqual(['crc32', 'md5', 'sha1', 'sha256', 'sha512'])
  })

  it('the spec example: sha1 of "hello world" is accepted', async () => {
    const { server, store } = await fileServer()
    const url = await createUpload(server.url, { 'Upload-Length': 11 })
    const res = await patch(url, 0, 'hello world', { 'Upload-Checksum': 'sha1 Kq5sNclPz7QV2+lfQIuc6R7oRu0=' })
    expect(res.status).toBe(204)
    expect(res.header('upload-offset')).toBe('11')
    expect((await readAll(store, idOf(url))).toString()).toBe('hello world')
  })

  for (const algorithm of ['sha1', 'md5', 'sha256', 'sha512', 'crc32']) {
    it(`accepts a matching ${algorithm} checksum over several chunks`, async () => {
      const { server, store } = await fileServer()
      const data = randomData(300_000)
      const url = await createUpload(server.url, { 'Upload-Length': data.length })
      const first = data.subarray(0, 100_000)
      const second = data.subarray(100_000)
      expect((await patch(url, 0, first, { 'Upload-Checksum': `${algorithm} ${digest(algorithm, first)}` })).status).toBe(204)
      const res = await patch(url, 100_000, second, { 'Upload-Checksum': `${algorithm} ${digest(algorithm, second)}` })
      expect(res.status).toBe(204)
      expect(sha256(await readAll(store, idOf(url)))).toBe(sha256(data))
    })
  }

  it('responds 460 on a mismatch, leaving stored bytes and offset unchanged (FileStore)', async () => {
    const { server, store } = await fileServer()
    const data = randomData(50_000)
    const url = await createUpload(server.url, { 'Upload-Length': 100_000 })
    expect((await patch(url, 0, data)).status).toBe(204)
    const bad = randomData(50_000)
    const res = await patch(url, 50_000, bad, { 'Upload-Checksum': `sha256 ${digest('sha256', randomData(10))}` })
    expect(res.status).toBe(460)
    expect((await head(url)).header('upload-offset')).toBe('50000')
    expect(sha256(await readAll(store, idOf(url)))).toBe(sha256(data))
    // The same chunk with the right checksum then goes through.
    const ok = await patch(url, 50_000, bad, { 'Upload-Checksum': `md5 ${digest('md5', bad)}` })
    expect(ok.status).toBe(204)
    expect(sha256(await readAll(store, idOf(url)))).toBe(sha256(Buffer.concat([data, bad])))
  })

  it('responds 460 on a mismatch with MemoryStore too', async () => {
    const store = new MemoryStore()
    const server = await startServer({ store })
    defer(server.close)
    const url = await createUpload(server.url, { 'Upload-Length': 10 })
    const res = await patch(url, 0, 'abcde', { 'Upload-Checksum': `crc32 ${digest('crc32', Buffer.from('abcdX'))}` })
    expect(res.status).toBe(460)
    expect((await store.get(idOf(url)))!.offset).toBe(0)
    expect((await readAll(store, idOf(url))).length).toBe(0)
  })

  it('verifies a creation-with-upload POST body', async () => {
    const { server, store } = await fileServer()
    const body = Buffer.from('first bytes')
    const bad = await send('POST', server.url, {
      headers: { ...TUS, ...OCTET, 'Upload-Length': 20, 'Upload-Checksum': `sha1 ${digest('sha1', Buffer.from('other'))}` },
      body,
    })
    expect(bad.status).toBe(460)
    expect(bad.header('location')).toBeFalsy()
    // The refused creation leaves no upload behind.
    const left: string[] = []
    for await (const upload of store.list!()) left.push(upload.id)
    expect(left).toEqual([])
    const good = await send('POST', server.url, {
      headers: { ...TUS, ...OCTET, 'Upload-Length': 20, 'Upload-Checksum': `sha1 ${digest('sha1', body)}` },
      body,
    })
    expect(good.status).toBe(201)
    expect(good.header('upload-offset')).toBe(String(body.length))
    expect(await readAll(store, idOf(good.header('location')))).toEqual(body)
  })

  const badHeaders: Array<[string, string]> = [
    ['an unsupported algorithm', `sha3 ${digest('sha1', Buffer.from('abc'))}`],
    ['an uppercase algorithm name', `SHA1 ${digest('sha1', Buffer.from('abc'))}`],
    ['no digest', 'sha1'],
    ['invalid base64', 'sha1 not*base64!'],
    ['a digest of the wrong size', `sha1 ${digest('md5', Buffer.from('abc'))}`],
  ]
  for (const [what, value] of badHeaders) {
    it(`responds 400 to ${what}, storing nothing`, async () => {
      const { server, store } = await fileServer()
      const url = await createUpload(server.url, { 'Upload-Length': 3 })
      const res = await patch(url, 0, 'abc', { 'Upload-Checksum': value })
      expect(res.status).toBe(400)
      expect((await store.get(idOf(url)))!.offset).toBe(0)
      expect((await readAll(store, idOf(url))).length).toBe(0)
    })
  }

  it('discards a checksummed body cut off by the client: it cannot be verified', async () => {
    const { server, store } = await fileServer()
    const url = await createUpload(server.url, { 'Upload-Length': 1000 })
    const { pathname, port } = new URL(url)
    const socket = connect(Number(port), '127.0.0.1')
    await new Promise((r) => socket.once('connect', r))
    socket.write(
      `PATCH ${pathname} HTTP/1.1\r\nHost: x\r\nTus-Resumable: 1.0.0\r\nContent-Type: application/offset+octet-stream\r\n` +
        `Upload-Offset: 0\r\nContent-Length: 1000\r\nUpload-Checksum: sha1 ${digest('sha1', Buffer.alloc(1000))}\r\n\r\n`,
    )
    socket.write(Buffer.alloc(600))
    await new Promise((r) => setTimeout(r, 50))
    socket.destroy()
    const h = await head(url)
    expect(h.header('upload-offset')).toBe('0')
    expect((await readAll(store, idOf(url))).length).toBe(0)
  })

  it('the table crc32 agrees with zlib', () => {
    for (const size of [0, 1, 7, 1000, 65_537]) {
      const data = randomData(size)
      expect(crc32Table(data)).toBe(zlibCrc32(data))
      expect(crc32Table(data.subarray(size >> 1), crc32Table(data.subarray(0, size >> 1)))).toBe(zlibCrc32(data))
    }
  })
})
