/**
 * tus-js-client in its IETF draft modes against the middleware: 'ietf-draft-03' sends interop version 5,
 * 'ietf-draft-05' interop version 6. Plain, chunked, with data in the creation request, resumed after abort()
 * (by uploadUrl and through URL storage), and with a deferred length; stored bytes compared by sha256.
 */
import { Readable } from 'node:stream'
import type { UploadOptions } from 'tus-js-client'
import { describe, expect, it } from 'vitest'
import { randomData, sha256 } from '../helpers/bytes.js'
import { idOf } from '../helpers/tus.js'
import { memoryUrlStorage, upload, uploadThenAbort, type Source } from '../interop/client.js'
import { useInteropServer } from '../interop/tus-server.js'

const KB = 1024

/** tus-js-client 4.3's type declarations do not list `protocol` yet, though the client reads it. */
const speaks = (protocol: string): Partial<UploadOptions> => ({ protocol }) as Partial<UploadOptions>


describe.each([
  ['ietf-draft-03', '5'],
  ['ietf-draft-05', '6'],
] as const)('tus-js-client protocol %s (interop %s)', (protocol, interop) => {
  const server = useInteropServer()
  const seen = (): string[] => server().bodies.map((b) => b.method)

  it('uploads in one go, and the upload is complete', async () => {
    const data = randomData(300 * KB)
    const url = await upload(data, { endpoint: server().endpoint, ...speaks(protocol), metadata: { filename: 'a.bin' } })
    expect(await server().storedHash(idOf(url))).toBe(sha256(data))
    expect(server().completed).toHaveLength(1)
    expect(server().completed[0]).toMatchObject({ offset: data.length, length: data.length, metadata: { filename: 'a.bin' } })
    const head = await fetch(url, { method: 'HEAD', headers: { 'Upload-Draft-Interop-Version': interop } })
    expect(head.headers.get('upload-complete')).toBe('?1')
  })

  it('uploads in chunks (chunkSize)', async () => {
    const data = randomData(700 * KB)
    const url = await upload(data, { endpoint: server().endpoint, ...speaks(protocol), chunkSize: 128 * KB })
    expect(await server().storedHash(idOf(url))).toBe(sha256(data))
    expect(seen().filter((m) => m === 'PATCH')).toHaveLength(6)
    expect(server().completed).toHaveLength(1)
  })

  it('sends data in the creation request (uploadDataDuringCreation)', async () => {
    const data = randomData(500 * KB)
    const url = await upload(data, { endpoint: server().endpoint, ...speaks(protocol), chunkSize: 200 * KB, uploadDataDuringCreation: true })
    expect(await server().storedHash(idOf(url))).toBe(sha256(data))
    expect(server().bodies[0]).toMatchObject({ method: 'POST', declared: 200 * KB, read: 200 * KB })
  })

  it('resumes after abort() with the stored uploadUrl, sending only what the server lacks', async () => {
    const data = randomData(1000 * KB)
    const chunkSize = 200 * KB
    const url = await uploadThenAbort(data, { endpoint: server().endpoint, ...speaks(protocol), chunkSize }, 2)
    const before = server().bodies.length
    const again = await upload(data, { endpoint: server().endpoint, ...speaks(protocol), uploadUrl: url, chunkSize })
    expect(again).toBe(url)
    const later = server().bodies.slice(before)
    expect(later.some((b) => b.method === 'POST')).toBe(false)
    expect(later[0].offset).toBeGreaterThanOrEqual(2 * chunkSize)
    expect(await server().storedHash(idOf(url))).toBe(sha256(data))
    expect(server().completed).toHaveLength(1)
  })

  it('finds the previous upload through urlStorage and resumes it (findPreviousUploads)', async () => {
    const data = randomData(600 * KB)
    const options = { endpoint: server().endpoint, ...speaks(protocol), chunkSize: 150 * KB, urlStorage: memoryUrlStorage(), fingerprint: async () => `f-${protocol}` }
    const url = await uploadThenAbort(data, options, 1)
    let resumedFrom: string | undefined
    const again = await upload(data, options, (u) => {
      u.findPreviousUploads().then((previous) => {
        resumedFrom = previous[0]?.uploadUrl ?? undefined
        if (previous[0]) u.resumeFromPreviousUpload(previous[0])
      })
    })
    expect(resumedFrom).toBe(url)
    expect(again).toBe(url)
    expect(await server().storedHash(idOf(url))).toBe(sha256(data))
  })

  it('uploads a stream of unknown length (uploadLengthDeferred)', async () => {
    const parts = Array.from({ length: 9 }, () => randomData(64 * KB))
    const data = Buffer.concat(parts)
    const url = await upload(Readable.from(parts) as unknown as Source, {
      endpoint: server().endpoint,
      ...speaks(protocol),
      chunkSize: 200 * KB,
      uploadLengthDeferred: true,
    })
    expect(await server().storedHash(idOf(url))).toBe(sha256(data))
    // The length became known with the append that said Upload-Complete: ?1.
    expect(server().completed).toHaveLength(1)
    expect(server().completed[0]).toMatchObject({ offset: data.length, length: data.length })
  })
})
