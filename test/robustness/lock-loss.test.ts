/**
 * Locks that can be lost (a lease that ran out, a lock service that went away): the request holding it stops
 * writing at once, changes nothing more in the store (the upload may be another request's by now), and
 * answers 503 LOCK_LOST; the upload resumes from the offset that stands.
 */
import { createHash } from 'node:crypto'
import { afterEach, expect, it } from 'vitest'
import { MemoryLocker, MemoryStore, type Lock, type Locker, type LockOptions } from 'tus-middleware'
import { randomData, sha256 } from '../helpers/bytes.js'
import { InstrumentedStore } from '../helpers/instrumented-store.js'
import { createUpload, headOffset, patch, patchHead, rawClient, sleep } from '../helpers/raw.js'
import { startServer, type TestServer } from '../helpers/server.js'
import { idOf } from '../helpers/tus.js'

let server: TestServer | undefined
afterEach(async () => {
  await server?.close()
  server = undefined
})

/** A locker whose held locks the test can take away. */
class LosableLocker implements Locker {
  private readonly inner = new MemoryLocker()
  readonly held: AbortController[] = []
  async lock(id: string, options: LockOptions): Promise<Lock> {
    const lock = await this.inner.lock(id, options)
    const lost = new AbortController()
    this.held.push(lost)
    return { signal: lost.signal, release: () => lock.release() }
  }
}

async function setUp() {
  const store = new InstrumentedStore(new MemoryStore())
  const locker = new LosableLocker()
  server = await startServer({ store, locker })
  return { store, locker, server }
}

for (const checksummed of [false, true]) {
  it(`stops writing within a second of losing the lock, and touches nothing more (${checksummed ? 'staged' : 'direct'} write)`, async () => {
    const { store, locker, server } = await setUp()
    const data = randomData(400_000)
    const url = await createUpload(server.url, data.length)
    const id = idOf(url)
    const extra: Record<string, string> = checksummed ? { 'Upload-Checksum': `sha1 ${createHash('sha1').update(data).digest('base64')}` } : {}
    const client = await rawClient(server.origin)
    await client.write(patchHead(new URL(url).pathname, 0, data.length, extra))
    await client.write(data.subarray(0, 100_000))
    await expect.poll(() => store.written.get(id)).toBe(100_000)
    locker.held.at(-1)!.abort(new Error('lease ran out'))
    // The client keeps sending; none of it reaches the store.
    await client.write(data.subarray(100_000, 200_000)).catch(() => {})
    const res = await client.response
    expect(res.status).toBe(503)
    expect(res.body).toMatch(/lost its hold/)
    await sleep(100)
    expect(store.written.get(id)).toBe(100_000)
    // Direct bytes stored before the loss count; staged ones were never committed.
    const offset = (await headOffset(url)).offset
    expect(offset).toBe(checksummed ? 0 : 100_000)
    expect((await patch(url, offset, data.subarray(offset))).status).toBe(204)
    expect(sha256(Buffer.concat(await (await store.read(id)).toArray()))).toBe(sha256(data))
  })
}
