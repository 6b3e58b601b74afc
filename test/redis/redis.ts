/**
 * Test support for RedisLocker: whether Redis answers on 127.0.0.1:6379, a key prefix of its own for each test
 * file (and removal of its keys afterwards), a TCP proxy that a test can cut to partition a locker from Redis,
 * and a private redis-server that a test can kill and restart.
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process'
import { randomBytes } from 'node:crypto'
import { connect, createServer, type AddressInfo, type Server, type Socket } from 'node:net'
import type { TusError } from '../../lib/errors.js'
import { createClient } from 'redis'
import { RedisLocker, type RedisLockerOptions } from '../../lib/redis/index.js'

export const REDIS_URL = 'redis://127.0.0.1:6379'

/** Whether a Redis server answers PING on host:port within `ms`. */
export function ping(port = 6379, host = '127.0.0.1', ms = 500): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = connect(port, host)
    let text = ''
    const done = (ok: boolean) => {
      clearTimeout(timer)
      socket.destroy()
      resolve(ok)
    }
    const timer = setTimeout(() => done(false), ms)
    socket.once('connect', () => socket.write('PING\r\n'))
    socket.on('data', (chunk) => {
      text += chunk.toString()
      if (text.includes('\r\n')) done(text.startsWith('+PONG'))
    })
    socket.once('error', () => done(false))
  })
}

/** Probes the shared Redis once; says so when the RedisLocker tests will be skipped. */
export async function redisReachable(): Promise<boolean> {
  const ok = await ping()
  if (!ok) console.warn('Redis not reachable on 127.0.0.1:6379: skipping RedisLocker tests')
  return ok
}

/** A prefix no other run uses, e.g. `tus-test:3f9a0c…:`. */
export const uniquePrefix = (): string => `tus-test:${randomBytes(6).toString('hex')}:`

/** A plain client for looking at keys from the outside. */
export async function adminClient(url = REDIS_URL) {
  const client = createClient({ url })
  client.on('error', () => {})
  await client.connect()
  return client
}

export type Admin = Awaited<ReturnType<typeof adminClient>>

/** Deletes every key under `prefix`. */
export async function removeKeys(admin: Admin, prefix: string): Promise<void> {
  const keys = (await admin.sendCommand(['KEYS', `${prefix}*`])) as string[]
  if (keys.length > 0) await admin.sendCommand(['DEL', ...keys])
}

/** Lockers made for one test, closed after it. */
export class Lockers {
  private readonly made: RedisLocker[] = []

  constructor(private readonly prefix: string) {}

  make(options: RedisLockerOptions = {}): RedisLocker {
    const locker = new RedisLocker({ url: REDIS_URL, prefix: this.prefix, ...options })
    this.made.push(locker)
    return locker
  }

  async closeAll(): Promise<void> {
    await Promise.all(this.made.splice(0).map((locker) => locker.close()))
  }
}

/** A TCP proxy in front of Redis; cut() drops its connections and refuses new ones, as a network partition. */
export class Proxy {
  private readonly sockets = new Set<Socket>()
  private server?: Server
  port = 0

  constructor(private readonly target = 6379) {}

  async start(port = 0): Promise<this> {
    const server = createServer((client) => {
      const upstream = connect(this.target, '127.0.0.1')
      for (const s of [client, upstream]) {
        this.sockets.add(s)
        s.on('error', () => {})
        s.once('close', () => {
          this.sockets.delete(s)
          client.destroy()
          upstream.destroy()
        })
      }
      client.pipe(upstream).pipe(client)
    })
    this.server = server
    await new Promise<void>((resolve) => server.listen(port, '127.0.0.1', resolve))
    this.port = (server.address() as AddressInfo).port
    return this
  }

  get url(): string {
    return `redis://127.0.0.1:${this.port}`
  }

  async cut(): Promise<void> {
    const server = this.server
    this.server = undefined
    for (const s of this.sockets) s.destroy()
    if (server) await new Promise<void>((resolve) => server.close(() => resolve()))
  }
}

/** Whether `redis-server` can be run. */
export const hasRedisServer = (): boolean => spawnSync('redis-server', ['--version'], { stdio: 'ignore' }).status === 0

export { freePort } from '../helpers/free-port.js'

/** The error a promise rejects with; throws when it resolves. */
export async function rejection(promise: Promise<unknown>): Promise<TusError> {
  try {
    await promise
  } catch (err) {
    return err as TusError
  }
  throw new Error('expected a rejection')
}

/** A redis-server of the test's own (no persistence) on `port`, which it can kill without disturbing anyone. */
export class PrivateRedis {
  private child?: ChildProcess

  constructor(readonly port: number) {}

  get url(): string {
    return `redis://127.0.0.1:${this.port}`
  }

  async start(): Promise<void> {
    const child = spawn(
      'redis-server',
      ['--port', String(this.port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no', '--protected-mode', 'no'],
      { stdio: 'ignore' },
    )
    this.child = child
    const deadline = Date.now() + 5000
    while (!(await ping(this.port))) {
      if (child.exitCode !== null || Date.now() > deadline) throw new Error(`redis-server did not start on port ${this.port}`)
      await new Promise((resolve) => setTimeout(resolve, 50))
    }
  }

  /** Kills the server (SIGKILL) and waits until it is gone. */
  async kill(): Promise<void> {
    const child = this.child
    this.child = undefined
    if (!child || child.exitCode !== null) return
    const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()))
    child.kill('SIGKILL')
    await exited
  }
}
