/**
 * tus-js-client resuming: after abort() (by URL, and through its URL storage), and across a server restart
 * on the same port and FileStore directory. A resumed upload re-sends only what the server does not have.
 */
import { describe, expect, it } from 'vitest'
import { randomData, sha256 } from '../helpers/bytes.js'
import { memoryUrlStorage, upload, uploadThenAbort } from './client.js'
import { idOf } from '../helpers/tus.js'
import { useInteropServer } from './tus-server.js'

const MB = 1024 * 1024


describe('tus-js-client resuming', () => {
  const server = useInteropServer()

  /** PATCHes sent after the first `before` body requests, and the offset the first of them started at. */
  function resumed(before: number): { from: number; declared: number; read: number } {
    const later = server().bodies.slice(before).filter((b) => b.method === 'PATCH')
    return {
      from: later[0]!.offset!,
      declared: later.reduce((n, p) => n + (p.declared ?? 0), 0),
      read: later.reduce((n, p) => n + p.read, 0),
    }
  }

  it('continues from the server offset with a new Upload given the stored uploadUrl', async () => {
    const data = randomData(6 * MB)
    const chunkSize = MB
    const url = await uploadThenAbort(data, { endpoint: server().endpoint, chunkSize }, 2)
    const before = server().bodies.length

    const again = await upload(data, { endpoint: server().endpoint, uploadUrl: url, chunkSize })
    expect(again).toBe(url)
    expect(server().bodies.slice(before).some((b) => b.method === 'POST')).toBe(false)
    const { from, declared, read } = resumed(before)
    // At least the two accepted chunks were kept; only the rest went over the wire again.
    expect(from).toBeGreaterThanOrEqual(2 * chunkSize)
    expect(declared).toBe(data.length - from)
    expect(read).toBe(data.length - from)
    expect(await server().storedHash(idOf(url))).toBe(sha256(data))
  })

  it('finds the previous upload through urlStorage and a fingerprint, and resumes it', async () => {
    const data = randomData(5 * MB)
    const chunkSize = 1.5 * MB
    const options = { endpoint: server().endpoint, chunkSize, urlStorage: memoryUrlStorage(), fingerprint: async () => 'report.pdf-5MB' }
    const url = await uploadThenAbort(data, options, 1)
    const before = server().bodies.length

    const again = await upload(data, options, (u) => {
      // Started only once the previous upload is found: setup runs before start(), so chain it.
      const start = u.start.bind(u)
      u.start = () => {
        u.findPreviousUploads().then((previous) => {
          expect(previous).toHaveLength(1)
          u.resumeFromPreviousUpload(previous[0]!)
          start()
        })
      }
    })
    expect(again).toBe(url)
    const { from, declared } = resumed(before)
    expect(from).toBeGreaterThanOrEqual(chunkSize)
    expect(declared).toBe(data.length - from)
    expect(await server().storedHash(idOf(url))).toBe(sha256(data))
  })

  it('survives a server restart mid-upload: the client retries and the new server continues', async () => {
    const data = randomData(4 * MB)
    const chunkSize = 512 * 1024
    let restarted: Promise<void> | undefined
    let restartedAt = -1
    const url = await upload(data, {
      endpoint: server().endpoint,
      chunkSize,
      retryDelays: [50, 100, 200, 400, 800, 1000, 1000, 1000, 1000],
      onChunkComplete: (_size, accepted) => {
        if (restarted) return
        restartedAt = accepted
        restarted = server().restart(300)
      },
    })
    await restarted
    expect(restartedAt).toBe(chunkSize)
    expect(await server().storedHash(idOf(url))).toBe(sha256(data))
    // The new server took over from an offset the old one had stored.
    const after = server().bodies.filter((b) => b.generation === 1)
    expect(after.length).toBeGreaterThan(0)
    expect(after.every((b) => b.method === 'PATCH')).toBe(true)
    expect(after[0]!.offset).toBeGreaterThanOrEqual(chunkSize)
    // Nothing was uploaded twice except, at most, the one chunk in flight when the server went away.
    const patches = server().bodies.filter((b) => b.method === 'PATCH')
    expect(patches.reduce((n, p) => n + p.read, 0)).toBeLessThanOrEqual(data.length + chunkSize)
    // The restarted middleware saw the upload finish.
    expect(server().completed.map((u) => u.id)).toEqual([idOf(url)])
  })
})
