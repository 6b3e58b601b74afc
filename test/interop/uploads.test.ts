/**
 * tus-js-client (Node) against the middleware mounted in Express on a FileStore: the upload modes clients use.
 * Every test compares the stored bytes with the source by sha256.
 */
import { Readable } from 'node:stream'
import { describe, expect, it } from 'vitest'
import { randomData, sha256 } from '../helpers/bytes.js'
import { upload, type Source } from './client.js'
import { idOf } from '../helpers/tus.js'
import { useInteropServer } from './tus-server.js'

describe('tus-js-client uploads', () => {
  const server = useInteropServer()

  const patches = () => server().bodies.filter((b) => b.method === 'PATCH')

  it('uploads a buffer in one PATCH with its metadata', async () => {
    const data = randomData(1_500_000)
    const metadata = { filename: 'résumé 2024.pdf', filetype: 'application/pdf', note: 'a, b = c; ✓' }
    const url = await upload(data, { endpoint: server().endpoint, metadata })
    expect(url.startsWith(`${server().endpoint}/`)).toBe(true)
    expect(await server().storedHash(idOf(url))).toBe(sha256(data))
    expect(patches()).toHaveLength(1)
    expect(server().completed).toHaveLength(1)
    expect(server().completed[0]).toMatchObject({ id: idOf(url), offset: data.length, length: data.length, metadata })
  })

  it('uploads in chunks of chunkSize, each PATCH at the previous offset', async () => {
    const data = randomData(1_000_003)
    const chunkSize = 262_144
    const url = await upload(data, { endpoint: server().endpoint, chunkSize })
    expect(await server().storedHash(idOf(url))).toBe(sha256(data))
    const sent = patches()
    expect(sent).toHaveLength(Math.ceil(data.length / chunkSize))
    sent.forEach((p, i) => {
      expect(p.offset).toBe(i * chunkSize)
      expect(p.read).toBe(Math.min(chunkSize, data.length - i * chunkSize))
    })
  })

  it('sends the first chunk with the POST (uploadDataDuringCreation)', async () => {
    const data = randomData(700_000)
    const chunkSize = 300_000
    const url = await upload(data, { endpoint: server().endpoint, chunkSize, uploadDataDuringCreation: true })
    expect(await server().storedHash(idOf(url))).toBe(sha256(data))
    const [post, ...rest] = server().bodies
    expect(post).toMatchObject({ method: 'POST', declared: chunkSize, read: chunkSize })
    expect(rest.map((p) => p.offset)).toEqual([300_000, 600_000])
  })

  it('uploads a Node stream of unknown length (uploadLengthDeferred)', async () => {
    const parts = Array.from({ length: 23 }, () => randomData(65_536))
    const data = Buffer.concat(parts)
    const stream = Readable.from(parts)
    const url = await upload(stream as unknown as Source, {
      endpoint: server().endpoint,
      chunkSize: 200_000,
      uploadLengthDeferred: true,
    })
    expect(await server().storedHash(idOf(url))).toBe(sha256(data))
    // The length became known with the last PATCH, and completed the upload.
    expect(server().completed).toHaveLength(1)
    expect(server().completed[0]).toMatchObject({ offset: data.length, length: data.length })
  })

  it('uploads in parallel parts joined by concatenation (parallelUploads)', async () => {
    // parallelUploads needs the concatenation extension; this server (a FileStore) always offers it.
    const options = await fetch(server().endpoint, { method: 'OPTIONS' })
    expect((options.headers.get('tus-extension') ?? '').split(',').map((e) => e.trim())).toContain('concatenation')
    const data = randomData(2_000_000)
    const url = await upload(data, { endpoint: server().endpoint, parallelUploads: 3, metadata: { filename: 'p.bin' } })
    expect(await server().storedHash(idOf(url))).toBe(sha256(data))
    const got = await fetch(url)
    expect(sha256(Buffer.from(await got.arrayBuffer()))).toBe(sha256(data))
  })
})
