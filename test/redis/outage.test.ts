/**
 * RedisLocker when Redis is not there: a bounded 503 LOCKER_UNAVAILABLE instead of a wait for lockTimeout, a held
 * lock reported lost, and recovery without a restart once Redis is back. The outage is staged on a redis-server
 * of the test's own, so the shared one is never disturbed.
 */
import { setTimeout as sleep } from 'node:timers/promises'
import { afterEach, describe, expect, it } from 'vitest'
import { TusError, type Lock } from 'tus-middleware'
import { RedisLocker } from '../../lib/redis/index.js'
import { freePort, hasRedisServer, PrivateRedis, rejection } from './redis.js'

const opts = (timeout = 10_000) => ({ timeout, onReleaseRequested: () => {} })


const cleanup: Array<() => Promise<void>> = []
afterEach(async () => {
  while (cleanup.length > 0) await cleanup.pop()!()
})

describe('RedisLocker without Redis', () => {
  it('fails with 503 LOCKER_UNAVAILABLE within about a second when nothing listens, not after lockTimeout', async () => {
    const locker = new RedisLocker({ url: 'redis://127.0.0.1:1' })
    cleanup.push(() => locker.close())
    for (let i = 0; i < 2; i++) {
      const start = Date.now()
      const err = await rejection(locker.lock('x', opts(30_000)))
      expect(err).toBeInstanceOf(TusError)
      expect(err.code).toBe('LOCKER_UNAVAILABLE')
      expect(err.status).toBe(503)
      expect(Date.now() - start).toBeLessThan(2000)
    }
    const start = Date.now()
    expect((await rejection(locker.ready())).code).toBe('LOCKER_UNAVAILABLE')
    expect(Date.now() - start).toBeLessThan(2000)
  })

  it('close() ends a locker that never reached Redis, promptly', async () => {
    const locker = new RedisLocker({ url: 'redis://127.0.0.1:1', connectTimeout: 200 })
    await rejection(locker.lock('x', opts()))
    const start = Date.now()
    await locker.close()
    expect(Date.now() - start).toBeLessThan(1500)
  })
})

describe.skipIf(!hasRedisServer())('RedisLocker through a Redis outage (private redis-server)', () => {
  it('reports a held lock lost, answers 503 while Redis is down, and works again once it is back', async () => {
    const redis = new PrivateRedis(await freePort())
    await redis.start()
    cleanup.push(() => redis.kill())
    const locker = new RedisLocker({ url: redis.url, leaseMs: 900, connectTimeout: 500, maxReconnectDelay: 200 })
    cleanup.push(() => locker.close())
    await locker.ready()
    const held = await locker.lock('held', opts())
    const before = held.fence!
    let lostAt = 0
    held.signal!.addEventListener('abort', () => (lostAt = Date.now()))

    const downAt = Date.now()
    await redis.kill()
    // New requests: a prompt 503, not a wait for the 10 s lockTimeout.
    const start = Date.now()
    const err = await rejection(locker.lock('other', opts()))
    expect(err.code).toBe('LOCKER_UNAVAILABLE')
    expect(err.status).toBe(503)
    expect(Date.now() - start).toBeLessThan(2000)
    expect((await rejection(locker.ready())).code).toBe('LOCKER_UNAVAILABLE')
    // The holder learns it lost the lock when its lease runs out without a renewal (within a second of that).
    while (!lostAt && Date.now() - downAt < 900 + 1000) await sleep(20)
    expect(lostAt).toBeGreaterThan(0)
    expect(lostAt - downAt).toBeLessThan(900 + 1000)
    await held.release() // never throws

    // Redis returns (empty: no persistence): the same locker serves again, without a restart.
    await redis.start()
    const back = Date.now()
    let lock: Lock | undefined
    let asked = 0
    while (!lock) {
      try {
        lock = await locker.lock('held', { timeout: 10_000, onReleaseRequested: () => (asked++, void lock?.release()) })
      } catch (e) {
        expect((e as TusError).code).toBe('LOCKER_UNAVAILABLE')
        if (Date.now() - back > 5000) throw e
        await sleep(100)
      }
    }
    expect(Date.now() - back).toBeLessThan(3000)
    // The fencing token did not go back, although Redis lost every key.
    expect(lock.fence).toBeGreaterThan(before)
    // Pub/sub is back too: another instance that does not poll (for 5 s) takes the lock over at once.
    await locker.ready()
    const other = new RedisLocker({ url: redis.url, pollMs: 5000 })
    cleanup.push(() => other.close())
    await other.ready()
    const start2 = Date.now()
    await (await other.lock('held', opts())).release()
    expect(asked).toBe(1)
    expect(Date.now() - start2).toBeLessThan(1000)
  })
})
