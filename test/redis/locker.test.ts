/**
 * RedisLocker against the Redis on 127.0.0.1:6379: two locker objects stand for two processes (each has its own
 * connections). Mutual exclusion, takeover over pub/sub and without it, bounded waits, lost locks, renewal and
 * fencing tokens.
 */
import { setTimeout as sleep } from 'node:timers/promises'
import { createClient } from 'redis'
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest'
import { TusError, type Lock } from 'tus-middleware'
import { until } from '../helpers/raw.js'
import { adminClient, Lockers, Proxy, REDIS_URL, redisReachable, rejection, removeKeys, uniquePrefix, type Admin } from './redis.js'

const reachable = await redisReachable()
const prefix = uniquePrefix()
const lockers = new Lockers(prefix)
let admin: Admin

const opts = (onReleaseRequested: () => void = () => {}, timeout = 5000) => ({ timeout, onReleaseRequested })
const lockKey = (id: string) => `${prefix}lock:${id}`

/** Settles with what the promise gave, or 'pending' if it has not settled after `ms`. */
async function within<T>(promise: Promise<T>, ms: number): Promise<T | 'pending'> {
  return Promise.race([promise, sleep(ms).then(() => 'pending' as const)])
}


describe.skipIf(!reachable)('RedisLocker', () => {
  beforeAll(async () => {
    admin = await adminClient()
  })
  afterEach(() => lockers.closeAll())
  afterAll(async () => {
    if (!admin) return
    await removeKeys(admin, prefix)
    expect(await admin.sendCommand(['KEYS', `${prefix}*`])).toEqual([])
    admin.destroy()
  })

  describe('mutual exclusion across instances', () => {
    it('a second instance waits until the first releases', async () => {
      const a = lockers.make()
      const b = lockers.make()
      await Promise.all([a.ready(), b.ready()])
      const first = await a.lock('one', opts())
      expect(await admin.get(lockKey('one'))).toMatch(/^[0-9a-f]{32}$/)
      const second = b.lock('one', opts())
      expect(await within(second, 600)).toBe('pending')
      await first.release()
      const granted = await within(second, 1000)
      expect(granted).not.toBe('pending')
      await (granted as Lock).release()
      expect(await admin.exists(lockKey('one'))).toBe(0)
    })

    it('never lets two holders overlap, with many requests from two instances', async () => {
      const a = lockers.make({ pollMs: 20 })
      const b = lockers.make({ pollMs: 20 })
      let inside = 0
      let most = 0
      let done = 0
      const work = async (locker: typeof a) => {
        const lock = await locker.lock('busy', opts(() => {}, 20_000))
        inside++
        most = Math.max(most, inside)
        await sleep(5 + Math.random() * 10)
        inside--
        done++
        await lock.release()
      }
      await Promise.all(Array.from({ length: 24 }, (_, i) => work(i % 2 ? a : b)))
      expect(done).toBe(24)
      expect(most).toBe(1)
    })

    it('hands the lock on within one instance in order, asking each holder to let go', async () => {
      const a = lockers.make({ pollMs: 5000 }) // a local hand-off must not wait for a poll
      const order: string[] = []
      const first = await a.lock('fifo', opts(() => order.push('asked first')))
      const second = a.lock('fifo', opts(() => order.push('asked second'))).then((l) => (order.push('second'), l))
      const third = a.lock('fifo', opts()).then((l) => (order.push('third'), l))
      await until(() => order.length === 2, 1000, 'both waiters to ask the holder')
      const released = Date.now()
      await first.release()
      const lock2 = await second
      expect(Date.now() - released).toBeLessThan(1000) // far less than pollMs
      expect(order).toEqual(['asked first', 'asked first', 'asked second', 'second'])
      await lock2.release()
      await (await third).release()
      expect(order.at(-1)).toBe('third')
    })
  })

  describe('takeover across instances', () => {
    it('the holder on A is asked within a second when B wants the lock, and B gets it right after A lets go', async () => {
      const a = lockers.make()
      const b = lockers.make({ pollMs: 5000 }) // only pub/sub can make B quick here
      await Promise.all([a.ready(), b.ready()])
      let askedAt = 0
      let releasedAt = 0
      let held!: Lock
      held = await a.lock('take', opts(() => {
        askedAt ||= Date.now()
        setTimeout(() => {
          releasedAt = Date.now()
          void held.release()
        }, 100)
      }))
      const start = Date.now()
      const lock = await b.lock('take', opts())
      const grantedAt = Date.now()
      expect(askedAt).toBeGreaterThan(0)
      expect(askedAt - start).toBeLessThan(1000)
      expect(grantedAt - releasedAt).toBeLessThan(1000) // far less than B's pollMs
      expect(lock.fence).toBeGreaterThan(held.fence!)
      await lock.release()
    })

    it('without pub/sub on the holder, the waiter is granted by polling once the holder releases', async () => {
      const a = lockers.make({ pubsub: false })
      const b = lockers.make({ pollMs: 50 })
      await Promise.all([a.ready(), b.ready()])
      let asked = 0
      const held = await a.lock('poll', opts(() => asked++))
      const waiting = b.lock('poll', opts())
      expect(await within(waiting, 400)).toBe('pending')
      expect(asked).toBe(0) // the request never reached A
      const releasedAt = Date.now()
      await held.release()
      const lock = await waiting
      expect(Date.now() - releasedAt).toBeLessThan(2000) // polling, long before A's 10 s lease would end
      await lock.release()
    })

    it('a holder cut off from Redis (pub/sub lost too) loses its lock when the lease ends, before anyone else gets it', async () => {
      const proxy = await new Proxy().start()
      const a = lockers.make({ url: proxy.url, leaseMs: 600, connectTimeout: 200 })
      const b = lockers.make({ pollMs: 50 })
      await Promise.all([a.ready(), b.ready()])
      let asked = 0
      const held = await a.lock('cut', opts(() => asked++))
      let lostAt = 0
      held.signal!.addEventListener('abort', () => (lostAt = Date.now()))
      const cutAt = Date.now()
      await proxy.cut()
      const lock = await b.lock('cut', opts())
      const grantedAt = Date.now()
      expect(asked).toBe(0)
      expect(lostAt).toBeGreaterThan(0)
      expect(lostAt).toBeLessThanOrEqual(grantedAt) // A stopped before B could start
      expect(lostAt - cutAt).toBeLessThan(600 + 1000)
      expect(grantedAt - cutAt).toBeLessThan(600 + 1000)
      await held.release() // never throws, and does not touch B's lock
      expect(await admin.exists(lockKey('cut'))).toBe(1)
      await lock.release()
    })
  })

  describe('bounded waits and lost locks', () => {
    it('a wait past its timeout fails with 423 UPLOAD_LOCKED', async () => {
      const a = lockers.make()
      const b = lockers.make()
      const held = await a.lock('timeout', opts())
      const start = Date.now()
      const err = await rejection(b.lock('timeout', opts(() => {}, 300)))
      expect(err).toBeInstanceOf(TusError)
      expect(err.code).toBe('UPLOAD_LOCKED')
      expect(err.status).toBe(423)
      expect(Date.now() - start).toBeGreaterThanOrEqual(290)
      expect(Date.now() - start).toBeLessThan(2000)
      await held.release()
    })

    it('a waiting request whose client leaves gives up with UPLOAD_LOCKED', async () => {
      const a = lockers.make()
      const b = lockers.make()
      const held = await a.lock('abort', opts())
      const abort = new AbortController()
      const waiting = b.lock('abort', { ...opts(), signal: abort.signal })
      await sleep(100)
      const abortedAt = Date.now()
      abort.abort()
      const err = await rejection(waiting)
      expect(err.code).toBe('UPLOAD_LOCKED')
      expect(Date.now() - abortedAt).toBeLessThan(1000)
      const gone = await rejection(b.lock('abort', { ...opts(), signal: AbortSignal.abort() }))
      expect(gone.code).toBe('UPLOAD_LOCKED')
      await held.release()
      expect(await admin.exists(lockKey('abort'))).toBe(0)
    })

    it('a lock whose key was taken away is reported lost, and its release leaves the new holder alone', async () => {
      const a = lockers.make({ leaseMs: 300 })
      const b = lockers.make({ pollMs: 20 })
      const held = await a.lock('lost', opts())
      await admin.del(lockKey('lost')) // as if the lease had run out while A was paused
      const lock = await b.lock('lost', opts())
      const token = await admin.get(lockKey('lost'))
      await until(() => held.signal!.aborted, 1000, "A's signal to be aborted")
      expect(String(held.signal!.reason)).toMatch(/Lost the lock/)
      await held.release()
      expect(await admin.get(lockKey('lost'))).toBe(token)
      await lock.release()
      expect(await admin.exists(lockKey('lost'))).toBe(0)
    })
  })

  it('renews a lock held past its lease', async () => {
    const a = lockers.make({ leaseMs: 300 })
    const b = lockers.make()
    const held = await a.lock('renew', opts())
    const ttls: number[] = []
    for (let i = 0; i < 12; i++) {
      await sleep(100)
      ttls.push(Number(await admin.pTTL(lockKey('renew'))))
    }
    expect(Math.min(...ttls)).toBeGreaterThan(0)
    expect(held.signal!.aborted).toBe(false)
    expect((await rejection(b.lock('renew', opts(() => {}, 100)))).code).toBe('UPLOAD_LOCKED')
    await held.release()
    expect(await admin.exists(lockKey('renew'))).toBe(0)
  })

  it('gives every grant a larger fencing token, on any instance', async () => {
    const a = lockers.make()
    const b = lockers.make()
    const fences: number[] = []
    for (let i = 0; i < 6; i++) {
      const lock = await (i % 2 ? a : b).lock('fence', opts())
      fences.push(lock.fence!)
      await lock.release()
    }
    for (let i = 1; i < fences.length; i++) expect(fences[i]).toBeGreaterThan(fences[i - 1])
    expect(Number.isSafeInteger(fences[0])).toBe(true)
    expect(Number(await admin.pTTL(`${prefix}fence:fence`))).toBeGreaterThan(0)
    // A fence never goes back, even when its counter is gone (expired, or Redis restarted without persistence).
    await admin.del(`${prefix}fence:fence`)
    const again = await a.lock('fence', opts())
    expect(again.fence).toBeGreaterThan(fences.at(-1)!)
    await again.release()
  })

  it('works with a client the app made, which close() leaves open', async () => {
    const client = createClient({ url: REDIS_URL, disableOfflineQueue: true })
    client.on('error', () => {})
    const a = lockers.make({ client }) // not connected yet: the locker connects it
    const b = lockers.make()
    await a.ready()
    let asked = 0
    let held!: Lock
    held = await a.lock('own', opts(() => (asked++, void held.release())))
    const lock = await b.lock('own', opts()) // takeover reached A through its duplicate of the client
    expect(asked).toBe(1)
    await lock.release()
    await a.close()
    expect(client.isReady).toBe(true)
    expect(await client.ping()).toBe('PONG')
    client.destroy()
  })

  it('ready() answers, and close() gives up held locks', async () => {
    const a = lockers.make()
    await a.ready()
    const held = await a.lock('close', opts())
    const token = await admin.get(lockKey('close'))
    const waiter = lockers.make().lock('close', opts(() => {}, 2000))
    waiter.catch(() => {})
    await a.close()
    expect(held.signal!.aborted).toBe(true)
    const next = await waiter // within its 2 s: A's lease (10 s) did not have to run out
    expect(await admin.get(lockKey('close'))).not.toBe(token)
    await next.release()
    expect((await rejection(a.lock('close', opts()))).code).toBe('LOCKER_UNAVAILABLE')
  })
})
