/**
 * Two servers, each with its own middleware and RedisLocker, sharing one store, as two processes behind a load
 * balancer: a client whose PATCH to server A stalls reconnects to server B, and B's HEAD takes the lock over (A's
 * request stops reading, keeps its bytes and answers), so the client resumes at once at the true offset.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { MemoryStore } from 'tus-middleware'
import { RedisLocker } from '../../lib/redis/index.js'
import { randomData, sha256 } from '../helpers/bytes.js'
import { useCleanup } from '../helpers/cleanup.js'
import { InstrumentedStore } from '../helpers/instrumented-store.js'
import { createUpload, headOffset, patch, patchHead, rawClient, until } from '../helpers/raw.js'
import { startServer } from '../helpers/server.js'
import { adminClient, REDIS_URL, redisReachable, removeKeys, uniquePrefix, type Admin } from './redis.js'

const reachable = await redisReachable()
const prefix = uniquePrefix()
const defer = useCleanup()
let admin: Admin

describe.skipIf(!reachable)('two servers sharing a store and a RedisLocker', () => {
  beforeAll(async () => {
    admin = await adminClient()
  })
  afterAll(async () => {
    if (!admin) return
    await removeKeys(admin, prefix)
    admin.destroy()
  })

  async function setup() {
    const store = new InstrumentedStore(new MemoryStore())
    const servers = []
    for (let i = 0; i < 2; i++) {
      const locker = new RedisLocker({ url: REDIS_URL, prefix })
      await locker.ready()
      // No idle timeout and a long lock wait: only a takeover can free a stalled upload here.
      const server = await startServer({ store, locker, lockTimeout: 10_000, bodyIdleTimeout: 0 })
      defer(() => locker.close(), server.close)
      servers.push(server)
    }
    return { store, a: servers[0], b: servers[1] }
  }

  it('a HEAD on server B makes a PATCH stalled on server A answer and keep its bytes, within about a second', async () => {
    const { store, a, b } = await setup()
    const data = randomData(100_000)
    const url = await createUpload(a.url, data.length)
    const id = url.split('/').pop()!
    const onB = url.replace(a.origin, b.origin)

    // The PATCH to A sends 30 000 bytes, which are stored, then goes silent on a live connection.
    const old = await rawClient(a.origin)
    await old.write(patchHead(new URL(url).pathname, 0, data.length))
    await old.write(data.subarray(0, 30_000))
    await until(() => store.written.get(id) === 30_000, 5000, 'the first bytes to be stored')
    expect(await admin.exists(`${prefix}lock:${id}`)).toBe(1)

    // The client reconnects, to B: B's lock request reaches A, whose request lets go.
    const start = Date.now()
    expect(await headOffset(onB)).toEqual({ status: 200, offset: 30_000 })
    expect(Date.now() - start).toBeLessThan(2000) // not the 10 s lockTimeout
    const answer = await old.response
    expect(answer.status).toBe(204)
    expect(answer.headers['upload-offset']).toBe('30000')

    // It resumes on B from there.
    const rest = await patch(onB, 30_000, data.subarray(30_000))
    expect(rest.status).toBe(204)
    expect(rest.headers.get('upload-offset')).toBe(String(data.length))
    const stored = await store.inner.read!(id)
    const chunks: Buffer[] = []
    for await (const chunk of stored as AsyncIterable<Buffer>) chunks.push(chunk)
    expect(sha256(Buffer.concat(chunks))).toBe(sha256(data))
    old.socket.destroy()
    await until(async () => (await admin.exists(`${prefix}lock:${id}`)) === 0, 2000, 'the lock to be released')
  })
})
