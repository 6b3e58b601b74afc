/**
 * A Locker shared by every process (or machine) that talks to the same Redis: several instances of the middleware
 * can then serve one upload.
 *
 * - A lock is a key, `<prefix>lock:<id>`, set with NX and a lease (PX); its value is a random token, so release and
 *   renewal (Lua scripts) only ever touch the caller's own lock. The holder renews the lease every leaseMs / 3;
 *   when a renewal finds the key gone, or Redis cannot be reached until the lease has run out, the lock's `signal`
 *   is aborted: the holder must stop writing.
 * - Every grant increments `<prefix>fence:<id>`: the lock's fencing token.
 * - Takeover across processes: a waiter publishes a release request, and the process holding the lock calls its
 *   holder's `onReleaseRequested`. A holder that was asked publishes its release, so waiters elsewhere retry at
 *   once. Pub/sub is best-effort: waiters also poll (SET NX every pollMs) and repeat their request.
 * - Within one process, waiters for an id queue here (first come, first served) and only the first of them polls;
 *   a local release lets it try at once.
 * - When Redis cannot be reached, lock() fails within a bounded time with TusError('LOCKER_UNAVAILABLE') (503);
 *   node-redis reconnects in the background, and requests work again once Redis is back.
 */
import { randomBytes } from 'node:crypto'
import createDebug from 'debug'
import { TusError } from '../errors.js'
import type { Lock, LockOptions, Locker } from '../locks/locker.js'
import { loadRedis, type RedisModule } from './load.js'

const debug = createDebug('tus-middleware:redis')

/**
 * The part of a node-redis (4 or newer) client that RedisLocker uses. A client made with `createClient()` from
 * the `redis` package fits.
 */
export interface RedisClientLike {
  readonly isOpen: boolean
  readonly isReady: boolean
  connect(): Promise<unknown>
  duplicate(): RedisClientLike
  // eslint-disable-next-line @typescript-eslint/no-explicit-any
  sendCommand(args: any[]): Promise<unknown>
  // eslint-disable-next-line @typescript-eslint/no-explicit-any
  subscribe(channels: any, listener: (message: any, channel: any) => unknown): Promise<unknown>
  // eslint-disable-next-line @typescript-eslint/no-explicit-any
  on(event: string, listener: (...args: any[]) => void): unknown
  // eslint-disable-next-line @typescript-eslint/no-explicit-any
  off?(event: string, listener: (...args: any[]) => void): unknown
  // eslint-disable-next-line @typescript-eslint/no-explicit-any
  removeListener?(event: string, listener: (...args: any[]) => void): unknown
  close?(): Promise<unknown>
  quit?(): Promise<unknown>
  destroy?(): unknown
  disconnect?(): Promise<unknown>
}

export interface RedisLockerOptions {
  /** Redis URL, e.g. `redis://127.0.0.1:6379` or `rediss://user:pass@host:6380/0`. Default `redis://127.0.0.1:6379`. */
  url?: string
  /**
   * A node-redis client you made (connected or not). The locker uses it for commands and a duplicate of it for
   * pub/sub; close() closes the duplicate but leaves your client open. Give it `disableOfflineQueue: true`, or a
   * command made while Redis is away waits until `commandTimeout`.
   */
  client?: RedisClientLike
  /** More options for `createClient()` when the locker makes the client (TLS, password, database...). */
  clientOptions?: Record<string, unknown>
  /** Prefix of every key and channel. Default `'tus:'`. */
  prefix?: string
  /** Lease of a lock in ms: a holder that stops renewing (its process died) loses the lock after it. Default 10000. */
  leaseMs?: number
  /** How often a waiter tries again when no release reached it, in ms (±25 %). Default 200. */
  pollMs?: number
  /** How often a waiter repeats its release request, in ms. Default 1000. */
  republishMs?: number
  /** How long a call waits for a connection to Redis before failing with LOCKER_UNAVAILABLE, in ms. Default 1000. */
  connectTimeout?: number
  /** How long a call waits for Redis to answer a command, in ms. Default 2000. */
  commandTimeout?: number
  /** Longest pause between reconnection attempts, in ms (the pauses grow from 50 ms). Default 1000. */
  maxReconnectDelay?: number
  /** Fencing counters are dropped after this long without a grant, in ms. Default 30 days. */
  fenceTtlMs?: number
  /** Release requests and releases over pub/sub (a second connection). Without it, waiters only poll. Default true. */
  pubsub?: boolean
}

/**
 * Sets the lock if it is free; then the fencing token. A counter that is gone (expired, or Redis restarted
 * without persistence) starts again from Redis's clock in microseconds, so the token never goes back unless
 * one id was granted more than a million times a second. Built as a string: Lua would print a 16-digit number
 * in exponent form.
 */
const ACQUIRE = `
if not redis.call('SET', KEYS[1], ARGV[1], 'NX', 'PX', ARGV[2]) then return 0 end
local fence = redis.call('INCR', KEYS[2])
if fence == 1 then
  local now = redis.call('TIME')
  redis.call('SET', KEYS[2], now[1] .. string.format('%06d', tonumber(now[2])))
  fence = redis.call('INCR', KEYS[2])
end
redis.call('PEXPIRE', KEYS[2], ARGV[3])
return fence`

/** Deletes the lock if the caller still holds it, and tells waiters elsewhere when asked to (ARGV[2] = channel). */
const RELEASE = `
if redis.call('GET', KEYS[1]) ~= ARGV[1] then return 0 end
redis.call('DEL', KEYS[1])
if ARGV[2] ~= '' then redis.call('PUBLISH', ARGV[2], ARGV[3]) end
return 1`

/** Renews the lease if the caller still holds the lock. */
const EXTEND = `
if redis.call('GET', KEYS[1]) ~= ARGV[1] then return 0 end
return redis.call('PEXPIRE', KEYS[1], ARGV[2])`

interface Grant {
  token: string
  fence: number
  /** When the lease ends at the latest, by this process's clock (measured from when the command was sent). */
  expiresAt: number
}

interface Held {
  entry: Entry
  token: string
  options: LockOptions
  controller: AbortController
  lock: Lock
  expiresAt: number
  /** Timers stopped: released, lost or closed. */
  done: boolean
  /** release() was called (or close() released it). */
  released: boolean
  /** A process elsewhere asked for the lock: publish the release so it retries at once. */
  wanted: boolean
  renewTimer?: NodeJS.Timeout
  expiryTimer?: NodeJS.Timeout
}

interface Waiter {
  options: LockOptions
  grant(lock: Lock): void
  fail(err: unknown): void
}

interface Entry {
  id: string
  /** The request of this process holding the lock, if one does. */
  holder?: Held
  /** Requests of this process waiting, in order. */
  waiters: Waiter[]
  /** Whether a loop is trying to take the lock for the first waiter. */
  pumping: boolean
  /** lock() calls trying for a lock nobody here holds or waits for, before they wait or hold it. */
  trying: number
  /** Ends the first waiter's pause between tries early. */
  wake?: () => void
  /** When this process last published a release request for the id. */
  askedAt: number
}

const positive = (options: RedisLockerOptions, name: keyof RedisLockerOptions, fallback: number): number => {
  const value = options[name] ?? fallback
  if (typeof value !== 'number' || !Number.isFinite(value) || value <= 0) {
    throw new TypeError(`RedisLocker: option "${name}" must be a positive number of milliseconds`)
  }
  return value
}

const unavailable = (cause: unknown, detail?: string): TusError => {
  if (cause instanceof TusError) return cause
  const err = new TusError('LOCKER_UNAVAILABLE')
  err.cause = cause
  debug('unavailable: %s%s', detail ? `${detail}: ` : '', (cause as Error)?.message ?? cause)
  return err
}

const swallow = (): void => {}

export class RedisLocker implements Locker {
  private readonly prefix: string
  private readonly leaseMs: number
  private readonly pollMs: number
  private readonly republishMs: number
  private readonly connectTimeout: number
  private readonly commandTimeout: number
  private readonly maxReconnectDelay: number
  private readonly fenceTtlMs: number
  private readonly pubsub: boolean
  private readonly url: string
  private readonly clientOptions: Record<string, unknown>
  private readonly ownsClient: boolean
  /** Told apart from other processes in pub/sub messages, so a process ignores its own. */
  private readonly instance = randomBytes(8).toString('hex')
  private readonly requestChannel: string
  private readonly releaseChannel: string
  private readonly entries = new Map<string, Entry>()
  private client?: RedisClientLike
  private subscriber?: RedisClientLike
  private starting?: Promise<RedisClientLike>
  private subscribed?: Promise<void>
  /** close() was called: no new locks. */
  private closed = false
  /** close() has released what was held: no more commands. */
  private disconnected = false
  /** Loads the `redis` module; replaceable in tests. */
  protected load: () => Promise<RedisModule> = () => loadRedis()

  constructor(options: RedisLockerOptions = {}) {
    if (options === null || typeof options !== 'object') throw new TypeError('RedisLocker: options must be an object')
    if (options.client !== undefined && typeof options.client?.sendCommand !== 'function') {
      throw new TypeError('RedisLocker: option "client" must be a node-redis client (from createClient())')
    }
    if (options.url !== undefined && typeof options.url !== 'string') {
      throw new TypeError('RedisLocker: option "url" must be a string such as redis://127.0.0.1:6379')
    }
    if (options.prefix !== undefined && typeof options.prefix !== 'string') {
      throw new TypeError('RedisLocker: option "prefix" must be a string')
    }
    this.prefix = options.prefix ?? 'tus:'
    this.leaseMs = positive(options, 'leaseMs', 10_000)
    this.pollMs = positive(options, 'pollMs', 200)
    this.republishMs = positive(options, 'republishMs', 1000)
    this.connectTimeout = positive(options, 'connectTimeout', 1000)
    this.commandTimeout = positive(options, 'commandTimeout', 2000)
    this.maxReconnectDelay = positive(options, 'maxReconnectDelay', 1000)
    this.fenceTtlMs = positive(options, 'fenceTtlMs', 30 * 24 * 3600_000)
    this.pubsub = options.pubsub ?? true
    this.url = options.url ?? 'redis://127.0.0.1:6379'
    this.clientOptions = options.clientOptions ?? {}
    this.client = options.client
    this.ownsClient = options.client === undefined
    this.requestChannel = `${this.prefix}release-requested`
    this.releaseChannel = `${this.prefix}released`
  }

  lock(id: string, options: LockOptions): Promise<Lock> {
    if (this.closed) return Promise.reject(unavailable(new Error('RedisLocker is closed')))
    const entry = this.entry(id)
    if (entry.holder || entry.waiters.length > 0 || entry.pumping) return this.wait(entry, options)
    // Uncontended in this process: one try before anything about waiting (options.signal included) is set up.
    entry.trying++
    return this.tryAcquire(id).then(
      (grant) => {
        entry.trying--
        if (grant && this.closed) {
          this.releaseKey(id, grant.token, false).catch(swallow)
          throw unavailable(new Error('RedisLocker is closed'))
        }
        return grant ? this.hold(entry, grant, options).lock : this.wait(entry, options)
      },
      (err) => {
        entry.trying--
        this.drop(entry)
        throw err
      },
    )
  }

  /** Resolves when Redis answers a PING (and, with pub/sub, the subscription is in place); rejects otherwise. */
  async ready(): Promise<void> {
    await this.command(['PING'])
    if (!this.pubsub) return
    let timer: NodeJS.Timeout | undefined
    const late = new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new Error('the pub/sub connection is not subscribed')), this.connectTimeout)
    })
    try {
      await Promise.race([this.subscribed, late])
    } catch (err) {
      throw unavailable(err, 'pub/sub')
    } finally {
      clearTimeout(timer)
    }
    // Subscribed once; after a reconnection, the subscription is back when the connection is ready again.
    if (this.subscriber) await whenReady(this.subscriber, this.connectTimeout)
  }

  /**
   * Stops waiting requests (LOCKER_UNAVAILABLE), gives up held locks (best-effort release in Redis; their signals
   * are aborted), clears timers and closes the connections the locker made (a client passed in stays open).
   */
  async close(): Promise<void> {
    if (this.closed) return
    this.closed = true
    const releases: Array<Promise<unknown>> = []
    for (const entry of this.entries.values()) {
      for (const waiter of entry.waiters.splice(0)) waiter.fail(unavailable(new Error('RedisLocker closed')))
      entry.wake?.()
      const held = entry.holder
      if (held) {
        this.finish(held)
        held.released = true
        entry.holder = undefined
        held.controller.abort(new Error('RedisLocker closed'))
        releases.push(this.releaseKey(entry.id, held.token, false).catch(swallow))
      }
    }
    this.entries.clear()
    await Promise.all(releases)
    this.disconnected = true
    const subscriber = this.subscriber
    this.subscriber = undefined
    if (subscriber) await shut(subscriber)
    if (this.ownsClient && this.client) await shut(this.client)
  }

  // ---- waiting ----

  private entry(id: string): Entry {
    let entry = this.entries.get(id)
    if (!entry) {
      entry = { id, waiters: [], pumping: false, trying: 0, askedAt: 0 }
      this.entries.set(id, entry)
    }
    return entry
  }

  private drop(entry: Entry): void {
    const idle = !entry.holder && entry.waiters.length === 0 && !entry.pumping && entry.trying === 0
    if (idle && this.entries.get(entry.id) === entry) {
      this.entries.delete(entry.id)
    }
  }

  private wait(entry: Entry, options: LockOptions): Promise<Lock> {
    return new Promise<Lock>((resolve, reject) => {
      if (this.closed) return reject(unavailable(new Error('RedisLocker is closed')))
      const signal = options.signal
      let settled = false
      const settle = () => {
        settled = true
        clearTimeout(timer)
        signal?.removeEventListener('abort', onAbort)
      }
      const waiter: Waiter = {
        options,
        grant: (lock) => {
          settle()
          resolve(lock)
        },
        fail: (err) => {
          settle()
          reject(err)
        },
      }
      const giveUp = (err: TusError) => {
        if (settled) return
        const i = entry.waiters.indexOf(waiter)
        if (i !== -1) entry.waiters.splice(i, 1)
        waiter.fail(err)
        if (i === 0) entry.wake?.() // the loop trying for it moves on to the next waiter, or stops
        this.drop(entry)
      }
      const onAbort = () => giveUp(new TusError('UPLOAD_LOCKED', 'Request aborted while waiting for the upload'))
      const timer = setTimeout(() => giveUp(new TusError('UPLOAD_LOCKED')), options.timeout)
      if (signal?.aborted) return onAbort()
      signal?.addEventListener('abort', onAbort, { once: true })
      entry.waiters.push(waiter)
      // Takeover: every new waiter asks the holder to let go, here or (pub/sub) in the process holding it.
      if (entry.holder) this.askToRelease(entry.holder)
      else this.requestRelease(entry)
      void this.pump(entry)
    })
  }

  /** Tries for the lock on behalf of the first waiter until it is granted, nobody waits, or a holder here has it. */
  private async pump(entry: Entry): Promise<void> {
    if (entry.pumping) return
    entry.pumping = true
    try {
      while (!this.closed && entry.waiters.length > 0 && !entry.holder) {
        let grant: Grant | undefined
        try {
          grant = await this.tryAcquire(entry.id)
        } catch (err) {
          for (const waiter of entry.waiters.splice(0)) waiter.fail(err)
          break
        }
        if (grant) {
          const next = this.closed ? undefined : entry.waiters.shift()
          if (!next) {
            // Everyone gave up meanwhile.
            this.releaseKey(entry.id, grant.token, false).catch(swallow)
            break
          }
          next.grant(this.hold(entry, grant, next.options).lock)
          break
        }
        if (Date.now() - entry.askedAt >= this.republishMs) this.requestRelease(entry)
        await this.pause(entry)
      }
    } finally {
      entry.pumping = false
      this.drop(entry)
    }
  }

  /** Waits about pollMs, or less when woken (a release here or elsewhere, a waiter leaving). */
  private pause(entry: Entry): Promise<void> {
    return new Promise<void>((resolve) => {
      const done = () => {
        clearTimeout(timer)
        if (entry.wake === done) entry.wake = undefined
        resolve()
      }
      const timer = setTimeout(done, this.pollMs * (0.75 + Math.random() / 2))
      entry.wake = done
    })
  }

  private askToRelease(held: Held): void {
    try {
      held.options.onReleaseRequested()
    } catch (err) {
      // A holder's callback failing must not stop the waiter; the timeout still bounds the wait.
      debug('onReleaseRequested threw: %s', (err as Error)?.message ?? err)
    }
  }

  /** Publishes a release request for the id (best-effort: waiters poll too). */
  private requestRelease(entry: Entry): void {
    entry.askedAt = Date.now()
    if (!this.pubsub) return
    this.command(['PUBLISH', this.requestChannel, `${this.instance} ${entry.id}`]).catch(swallow)
  }

  private onMessage(message: string, channel: string): void {
    const space = message.indexOf(' ')
    if (space === -1 || message.slice(0, space) === this.instance) return
    const entry = this.entries.get(message.slice(space + 1))
    if (!entry) return
    if (channel === this.requestChannel) {
      if (entry.holder && !entry.holder.done) {
        entry.holder.wanted = true
        this.askToRelease(entry.holder)
      }
    } else if (channel === this.releaseChannel) {
      entry.wake?.()
    }
  }

  // ---- holding ----

  private hold(entry: Entry, grant: Grant, options: LockOptions): Held {
    const controller = new AbortController()
    const held: Held = {
      entry,
      token: grant.token,
      options,
      controller,
      expiresAt: grant.expiresAt,
      done: false,
      released: false,
      wanted: false,
      lock: {
        release: () => this.release(held),
        signal: controller.signal,
        fence: grant.fence,
      },
    }
    entry.holder = held
    this.armExpiry(held)
    this.scheduleRenewal(held, this.renewInterval())
    // Requests here that queued meanwhile (or still wait behind this one) ask the new holder to let go.
    if (entry.waiters.length > 0) this.askToRelease(held)
    return held
  }

  private renewInterval(): number {
    return Math.max(1, Math.floor(this.leaseMs / 3))
  }

  private scheduleRenewal(held: Held, ms: number): void {
    held.renewTimer = setTimeout(() => void this.renew(held), ms)
    held.renewTimer.unref()
  }

  /** Aborts the lock's signal when its lease runs out without a renewal. */
  private armExpiry(held: Held): void {
    clearTimeout(held.expiryTimer)
    held.expiryTimer = setTimeout(() => this.lose(held, 'its lease ran out before Redis could renew it'), Math.max(0, held.expiresAt - Date.now()))
    held.expiryTimer.unref()
  }

  private async renew(held: Held): Promise<void> {
    if (held.done) return
    const interval = this.renewInterval()
    const sent = Date.now()
    try {
      const renewed = await this.command(['EVAL', EXTEND, '1', this.lockKey(held.entry.id), held.token, String(this.leaseMs)], Math.min(this.commandTimeout, interval))
      if (held.done) return
      if (Number(renewed) !== 1) return this.lose(held, 'another holder took it (its lease had run out)')
      held.expiresAt = sent + this.leaseMs
      this.armExpiry(held)
      this.scheduleRenewal(held, interval)
    } catch (err) {
      if (held.done) return
      debug('renewing the lock on %s failed: %s', held.entry.id, (err as Error)?.message ?? err)
      this.scheduleRenewal(held, Math.min(interval, 250))
    }
  }

  private finish(held: Held): void {
    held.done = true
    clearTimeout(held.renewTimer)
    clearTimeout(held.expiryTimer)
  }

  /** The lock was lost while held: abort its signal and let waiters here try for it. */
  private lose(held: Held, why: string): void {
    if (held.done) return
    this.finish(held)
    debug('lost the lock on %s: %s', held.entry.id, why)
    held.controller.abort(new Error(`Lost the lock on upload ${held.entry.id}: ${why}`))
    const { entry } = held
    if (entry.holder === held) entry.holder = undefined
    if (entry.waiters.length > 0) void this.pump(entry)
    else this.drop(entry)
  }

  private async release(held: Held): Promise<void> {
    if (held.released) return
    held.released = true
    this.finish(held)
    const { entry } = held
    if (entry.holder === held) entry.holder = undefined
    // Never throws: a lock that is gone (expired, taken by another holder, Redis away) simply ends here. The
    // token check in the script keeps a lock lost meanwhile from deleting its new holder's key.
    await this.releaseKey(entry.id, held.token, held.wanted).catch(swallow)
    if (entry.holder || this.closed) return
    if (entry.waiters.length > 0) void this.pump(entry)
    else this.drop(entry)
  }

  // ---- Redis ----

  private lockKey(id: string): string {
    return `${this.prefix}lock:${id}`
  }

  private async tryAcquire(id: string): Promise<Grant | undefined> {
    const token = randomBytes(16).toString('hex')
    const sent = Date.now()
    const args = ['EVAL', ACQUIRE, '2', this.lockKey(id), `${this.prefix}fence:${id}`, token, String(this.leaseMs), String(this.fenceTtlMs)]
    const fence = Number(
      await this.command(args, this.commandTimeout, (late) => {
        // Granted after this process stopped waiting for the answer: give it back rather than let it block the id.
        if (Number(late) > 0) this.releaseKey(id, token, false).catch(swallow)
      }),
    )
    return fence > 0 ? { token, fence, expiresAt: sent + this.leaseMs } : undefined
  }

  private async releaseKey(id: string, token: string, announce: boolean): Promise<void> {
    const channel = announce && this.pubsub ? this.releaseChannel : ''
    await this.command(['EVAL', RELEASE, '1', this.lockKey(id), token, channel, `${this.instance} ${id}`])
  }

  /**
   * Sends one command: waits at most `timeout` for a connection, then as long for the answer. Any failure is a
   * TusError('LOCKER_UNAVAILABLE'); an answer that comes too late goes to `late`.
   */
  private async command(args: string[], timeout = this.commandTimeout, late?: (reply: unknown) => void): Promise<unknown> {
    const client = await this.connected(Math.min(timeout, this.connectTimeout))
    let timer: NodeJS.Timeout | undefined
    let timedOut = false
    const sent = Promise.resolve().then(() => client.sendCommand(args))
    const deadline = new Promise<never>((_, reject) => {
      timer = setTimeout(() => {
        timedOut = true
        reject(new Error(`Redis did not answer ${args[0]} within ${timeout} ms`))
      }, timeout)
    })
    try {
      return await Promise.race([sent, deadline])
    } catch (err) {
      if (timedOut && late) sent.then(late, swallow)
      else sent.catch(swallow)
      throw unavailable(err, args[0])
    } finally {
      clearTimeout(timer)
    }
  }

  /** The command client, ready; waits at most `timeout` ms for a (re)connection. */
  private async connected(timeout: number): Promise<RedisClientLike> {
    if (this.disconnected) throw unavailable(new Error('RedisLocker is closed'))
    // A missing `redis` package is a setup error, not an outage: it is thrown as it is.
    const client = await (this.starting ??= this.start())
    if (client.isReady) return client
    if (!client.isOpen) client.connect().catch(swallow) // a client passed in unconnected, or one that gave up
    await whenReady(client, timeout)
    return client
  }

  private async start(): Promise<RedisClientLike> {
    let client = this.client
    if (!client) {
      const { createClient } = await this.load()
      const socket = (this.clientOptions.socket ?? {}) as Record<string, unknown>
      client = createClient({
        url: this.url,
        ...this.clientOptions,
        // A command made while Redis is away fails at once instead of waiting in a queue for the reconnection.
        disableOfflineQueue: true,
        socket: {
          connectTimeout: this.connectTimeout,
          reconnectStrategy: (retries: number) => Math.min(50 * 2 ** Math.min(retries, 10), this.maxReconnectDelay),
          ...socket,
        },
      }) as RedisClientLike
      client.on('error', (err: Error) => debug('redis: %s', err?.message ?? err))
      this.client = client
      client.connect().catch((err: Error) => debug('connecting to redis failed: %s', err?.message ?? err))
    }
    if (this.pubsub) this.subscribed = this.subscribe(client)
    this.subscribed?.catch((err) => debug('pub/sub: %s', (err as Error)?.message ?? err))
    return client
  }

  /** A second connection for pub/sub (a subscribed connection runs no other commands). */
  private async subscribe(client: RedisClientLike): Promise<void> {
    const subscriber = client.duplicate()
    this.subscriber = subscriber
    subscriber.on('error', (err: Error) => debug('redis pub/sub: %s', err?.message ?? err))
    await subscriber.connect()
    if (this.closed) return
    // node-redis subscribes again by itself after a reconnection.
    await subscriber.subscribe([this.requestChannel, this.releaseChannel], (message: unknown, channel: unknown) =>
      this.onMessage(String(message), String(channel)),
    )
  }
}

/** Resolves when the client is ready (connected, subscriptions restored); LOCKER_UNAVAILABLE after `timeout` ms. */
function whenReady(client: RedisClientLike, timeout: number): Promise<void> {
  if (client.isReady) return Promise.resolve()
  return new Promise<void>((resolve, reject) => {
    const onReady = () => {
      cleanup()
      resolve()
    }
    const timer = setTimeout(() => {
      cleanup()
      reject(unavailable(new Error(`no connection to Redis within ${timeout} ms`)))
    }, timeout)
    const cleanup = () => {
      clearTimeout(timer)
      ;(client.off ?? client.removeListener)?.call(client, 'ready', onReady)
    }
    client.on('ready', onReady)
    if (client.isReady) onReady()
  })
}

/** Closes a client whatever its state or node-redis version. */
async function shut(client: RedisClientLike): Promise<void> {
  try {
    if (client.isOpen) {
      const closing = client.close ? client.close() : client.quit?.()
      await Promise.race([closing, new Promise((resolve) => setTimeout(resolve, 1000).unref())])
    }
  } catch {
    // Already closed, or closing failed: destroyed below.
  }
  try {
    if (client.destroy) client.destroy()
    else if (client.isOpen) await client.disconnect?.()
  } catch {
    // Nothing left to close.
  }
}
