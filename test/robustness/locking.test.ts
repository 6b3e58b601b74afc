/**
 * Locking: requests on one upload are serialised; a newer request takes over from one hanging on a live but
 * silent connection; the wait for a lock is bounded; two PATCHes racing for one offset never interleave bytes.
 */
import { readFile } from 'node:fs/promises'
import { join } from 'node:path'
import { describe, expect, it } from 'vitest'
import { FileStore, MemoryLocker, TusError, type Lock, type Locker, type LockOptions } from 'tus-middleware'
import { randomData, sha256 } from '../helpers/bytes.js'
import { useCleanup } from '../helpers/cleanup.js'
import { InstrumentedStore } from '../helpers/instrumented-store.js'
import { createUpload, headOffset, patch, patchHead, rawClient, until } from '../helpers/raw.js'
import { startServer, tempDir, type TestServer } from '../helpers/server.js'

const defer = useCleanup()

/** A MemoryLocker that counts the times a holder was asked to let go, so a test can wait for a takeover request. */
class ObservedLocker implements Locker {
  private readonly inner = new MemoryLocker()
  releaseRequests = 0

  get size(): number {
    return this.inner.size
  }

  lock(id: string, options: LockOptions): Promise<Lock> {
    const onReleaseRequested = () => {
      this.releaseRequests++
      options.onReleaseRequested()
    }
    return this.inner.lock(id, { ...options, onReleaseRequested })
  }
}

async function setup(options: Record<string, unknown> = {}) {
  const dir = await tempDir()
  const store = new InstrumentedStore(new FileStore({ directory: dir.path }))
  const locker = new ObservedLocker()
  // No idle timeout and a long lock wait: only a takeover can free a stalled upload in these tests.
  const server: TestServer = await startServer({ store, locker, lockTimeout: 10_000, bodyIdleTimeout: 0, ...options })
  defer(dir.remove, server.close)
  const stored = (url: string) => readFile(join(dir.path, `${url.split('/').pop()}.bin`))
  return { dir, store, locker, server, stored }
}

/** A PATCH of all of `data` that sends `sent` bytes, waits until they are stored, and then goes silent. */
async function stalledPatch(server: TestServer, store: InstrumentedStore, url: string, data: Buffer, sent: number) {
  const old = await rawClient(server.origin)
  await old.write(patchHead(new URL(url).pathname, 0, data.length))
  await old.write(data.subarray(0, sent))
  const id = url.split('/').pop()!
  await until(() => store.written.get(id) === sent, 5000, `the first ${sent} bytes to be stored`)
  return old
}

describe('lock takeover', () => {
  it('a reconnecting HEAD makes a PATCH stalled on a live connection answer and keep its bytes', async () => {
    const { store, locker, server, stored } = await setup()
    const data = randomData(100_000)
    const url = await createUpload(server.url, data.length)
    const old = await stalledPatch(server, store, url, data, 30_000)

    // The client reconnects: its HEAD takes the lock over instead of waiting for the silent connection.
    const head = await headOffset(url)
    expect(head).toEqual({ status: 200, offset: 30_000 })
    const answer = await old.response
    expect(answer.status).toBe(204)
    expect(answer.headers['upload-offset']).toBe('30000')
    expect(answer.headers.connection).toBe('close')
    expect(sha256(await stored(url))).toBe(sha256(data.subarray(0, 30_000)))

    const rest = await patch(url, 30_000, data.subarray(30_000))
    expect(rest.status).toBe(204)
    expect(sha256(await stored(url))).toBe(sha256(data))
    await old.closed
    expect(locker.size).toBe(0)
  })

  it('a reconnecting PATCH takes over and continues at the offset the old one reached', async () => {
    const { store, server, stored } = await setup()
    const data = randomData(64_000)
    const url = await createUpload(server.url, data.length)
    const old = await stalledPatch(server, store, url, data, 10_000)

    // A PATCH at the old offset waits for the lock, then finds the offset moved: 409, nothing written.
    const stale = await patch(url, 0, data)
    expect(stale.status).toBe(409)
    expect((await old.response).headers['upload-offset']).toBe('10000')
    const resumed = await patch(url, 10_000, data.subarray(10_000))
    expect(resumed.status).toBe(204)
    expect(resumed.headers.get('upload-offset')).toBe(String(data.length))
    expect(sha256(await stored(url))).toBe(sha256(data))
  })

  it('takes over a PATCH that holds the lock but has not started reading its body', async () => {
    const { store, server, stored, locker } = await setup()
    const data = randomData(20_000)
    const url = await createUpload(server.url, data.length)
    let open!: () => void
    store.getGate = new Promise((resolve) => (open = resolve))
    const old = await rawClient(server.origin)
    await old.write(patchHead(new URL(url).pathname, 0, data.length))
    await old.write(data.subarray(0, 5000)) // then silence
    // The PATCH now holds the lock and waits in get(); the HEAD asks it to let go before its body is read.
    await until(() => locker.size === 1, 5000, 'the PATCH to hold the lock')
    const head = headOffset(url)
    await until(() => locker.releaseRequests === 1, 5000, 'the HEAD to ask the PATCH for the lock')
    store.getGate = undefined
    open()
    expect(await head).toEqual({ status: 200, offset: 0 })
    expect((await old.response).headers['upload-offset']).toBe('0')
    expect((await stored(url)).length).toBe(0)
  })
})

describe('lock wait', () => {
  it('is bounded: 423 UPLOAD_LOCKED when the holder cannot let go in time, then the upload is usable', async () => {
    let release!: () => void
    const gate = new Promise<void>((resolve) => (release = resolve))
    let completing = false
    const { server } = await setup({ lockTimeout: 150, onComplete: () => ((completing = true), gate) })
    const url = await createUpload(server.url, 10)
    const finishing = patch(url, 0, randomData(10)) // holds the lock inside onComplete
    await until(() => completing, 5000, 'onComplete to run')
    const res = await fetch(url, { method: 'HEAD', headers: { 'Tus-Resumable': '1.0.0' } })
    expect(res.status).toBe(423)
    release()
    expect((await finishing).status).toBe(204)
    expect(await headOffset(url)).toEqual({ status: 200, offset: 10 })
  })

  it('hands the lock to the next waiter as soon as it is released, in order', async () => {
    const locker = new MemoryLocker()
    const order: string[] = []
    const first = await locker.lock('x', { timeout: 1000, onReleaseRequested: () => order.push('asked') })
    const second = locker.lock('x', { timeout: 1000, onReleaseRequested: () => {} }).then((l) => (order.push('second'), l))
    const third = locker.lock('x', { timeout: 1000, onReleaseRequested: () => {} }).then((l) => (order.push('third'), l))
    await Promise.resolve()
    expect(order).toEqual(['asked', 'asked'])
    await first.release()
    await (await second).release()
    await (await third).release()
    expect(order).toEqual(['asked', 'asked', 'second', 'third'])
    expect(locker.size).toBe(0)
  })

  it('gives up with UPLOAD_LOCKED when the waiting request is aborted', async () => {
    const locker = new MemoryLocker()
    const held = await locker.lock('y', { timeout: 1000, onReleaseRequested: () => {} })
    const abort = new AbortController()
    const waiting = locker.lock('y', { timeout: 10_000, signal: abort.signal, onReleaseRequested: () => {} })
    abort.abort()
    await expect(waiting).rejects.toBeInstanceOf(TusError)
    await held.release()
    expect(locker.size).toBe(0)
  })
})

describe('racing PATCHes', () => {
  it('never interleave: the first keeps a clean prefix, the second gets 409', async () => {
    const { store, server, stored } = await setup()
    for (let round = 0; round < 8; round++) {
      const a = randomData(64_000)
      const b = randomData(64_000)
      const url = await createUpload(server.url, a.length)
      const id = url.split('/').pop()!
      const path = new URL(url).pathname
      const ca = await rawClient(server.origin)
      const cb = await rawClient(server.origin)
      const firstChunk = 1000 + round * 3000
      await ca.write(patchHead(path, 0, a.length))
      await ca.write(a.subarray(0, firstChunk))
      await until(() => store.written.get(id) === firstChunk)
      await cb.write(patchHead(path, 0, b.length))
      // Both keep sending, interleaved on the wire.
      for (let at = firstChunk; at < a.length; at += 8000) {
        ca.socket.write(a.subarray(at, at + 8000))
        cb.socket.write(b.subarray(at - firstChunk, at - firstChunk + 8000))
      }
      const [ra, rb] = await Promise.all([ca.response, cb.response])
      expect(ra.status).toBe(204)
      expect(rb.status).toBe(409)
      const offset = Number(ra.headers['upload-offset'])
      expect(offset).toBeGreaterThanOrEqual(firstChunk)
      const bytes = await stored(url)
      expect(bytes.length).toBe(offset)
      expect(sha256(bytes)).toBe(sha256(a.subarray(0, offset)))
      expect(await headOffset(url)).toEqual({ status: 200, offset })
      ca.socket.destroy()
      cb.socket.destroy()
      if (offset < a.length) expect((await patch(url, offset, a.subarray(offset))).status).toBe(204)
      expect(sha256(await stored(url))).toBe(sha256(a))
    }
  })
})
