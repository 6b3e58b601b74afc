// Without the optional `redis` package, RedisLocker says what to install (and the core never needs it).
import { describe, expect, it } from 'vitest'
import { loadRedis, MISSING_REDIS, RedisLocker } from '../../lib/redis/index.js'

/** A RedisLocker whose client module has a name that does not resolve, as when `redis` is not installed. */
class WithoutRedis extends RedisLocker {
  protected override load = () => loadRedis('redis-package-that-is-not-installed')
}

describe('loading node-redis', () => {
  it('loads createClient from the redis package', async () => {
    expect(typeof (await loadRedis()).createClient).toBe('function')
  })

  it('names the package to install when it is missing', async () => {
    const err = await loadRedis('redis-package-that-is-not-installed').catch((e: Error) => e)
    expect(err).toBeInstanceOf(Error)
    expect((err as Error).message).toBe("RedisLocker needs the 'redis' package: npm install redis")
    expect(MISSING_REDIS).toBe((err as Error).message)
  })

  it('fails ready() and lock() with that message, not as an outage', async () => {
    const locker = new WithoutRedis()
    await expect(locker.ready()).rejects.toThrow(MISSING_REDIS)
    await expect(locker.lock('x', { timeout: 1000, onReleaseRequested: () => {} })).rejects.toThrow(MISSING_REDIS)
    await locker.close()
  })

  it('checks its options', () => {
    expect(() => new RedisLocker({ leaseMs: 0 })).toThrow(/leaseMs/)
    expect(() => new RedisLocker({ url: 6379 as unknown as string })).toThrow(/url/)
    expect(() => new RedisLocker({ client: {} as never })).toThrow(/client/)
  })
})
