/**
 * FileLocker: lock files shared by several processes on one FileStore directory. Two lockers on one directory
 * exclude each other like two processes; a real child process hands the lock over when asked and is taken over
 * at once when killed; stale and fresh foreign locks; timeouts, aborts and a stolen lease; in-process hand-off;
 * refused ids; and two tus servers on one directory, where a HEAD on one takes over a PATCH stalled on the other.
 */
import { execFileSync, spawn, type ChildProcess } from 'node:child_process'
import { existsSync, statSync, unlinkSync, writeFileSync } from 'node:fs'
import { readdir, readFile, stat, unlink, utimes, writeFile, mkdir } from 'node:fs/promises'
import { hostname } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { beforeAll, describe, expect, it } from 'vitest'
import { FileLocker, FileStore, TusError, type Lock, type LockOptions } from 'tus-middleware'
import { randomData, sha256 } from '../helpers/bytes.js'
import { useCleanup } from '../helpers/cleanup.js'
import { InstrumentedStore } from '../helpers/instrumented-store.js'
import { createUpload, headOffset, patch, patchHead, rawClient, sleep, until } from '../helpers/raw.js'
import { startServer, tempDir } from '../helpers/server.js'

const defer = useCleanup()
const root = fileURLToPath(new URL('../../', import.meta.url))
const holderScript = fileURLToPath(new URL('../fixtures/file-locker-holder.mjs', import.meta.url))
/** A pid no process has (above Linux's largest pid_max). */
const DEAD_PID = 2 ** 30

beforeAll(() => {
  // The child process uses the built package (`npm test` builds it first); build it when it is missing or older
  // than the locker, so this file can also run alone.
  const built = join(root, 'dist/esm/locks/file-locker.js')
  if (!existsSync(built) || statSync(built).mtimeMs < statSync(join(root, 'lib/locks/file-locker.ts')).mtimeMs) {
    execFileSync(process.execPath, ['scripts/build.mjs'], { cwd: root, stdio: 'inherit' })
  }
})

async function lockDir(): Promise<string> {
  const dir = await tempDir('tus-filelock-')
  defer(dir.remove)
  return dir.path
}

function locker(directory: string, options: { leaseMs?: number; pollMs?: number } = {}): FileLocker {
  const l = new FileLocker({ directory, ...options })
  defer(() => l.close())
  return l
}

/** Lock options; `asked` counts the holder's release requests. */
function request(timeout = 5000, signal?: AbortSignal): LockOptions & { asked: number } {
  const options = {
    asked: 0,
    timeout,
    signal,
    onReleaseRequested: () => {
      options.asked++
    },
  }
  return options
}

const lockFile = (dir: string, id: string) => join(dir, '.locks', `${id}.lock`)

async function expectLocked(promise: Promise<Lock>): Promise<TusError> {
  const err = await promise.then(
    () => undefined,
    (e: unknown) => e,
  )
  expect(err).toBeInstanceOf(TusError)
  expect((err as TusError).status).toBe(423)
  return err as TusError
}

/** A child process holding the lock (test/fixtures/file-locker-holder.mjs); `lines` is what it printed. */
function startHolder(directory: string, id: string, mode: 'yield' | 'hold') {
  const child: ChildProcess = spawn(process.execPath, [holderScript, directory, id, mode], { stdio: ['ignore', 'pipe', 'inherit'] })
  const lines: string[] = []
  let buffer = ''
  child.stdout!.on('data', (d: Buffer) => {
    buffer += d.toString()
    const parts = buffer.split('\n')
    buffer = parts.pop()!
    lines.push(...parts)
  })
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()))
  defer(async () => {
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL')
    await exited
  })
  return { child, lines, exited }
}

describe('FileLocker across lockers and processes', () => {
  it('two lockers on one directory exclude each other; the waiter gets the lock within a few polls of its release', async () => {
    const dir = await lockDir()
    const a = locker(dir, { pollMs: 25 })
    const b = locker(dir, { pollMs: 25 })
    const first = request()
    const held = await a.lock('u1', first)
    let granted = 0
    const waiting = b.lock('u1', request()).then((lock) => ((granted = performance.now()), lock))
    await expectLocked(b.lock('u1', request(100)))
    // The waiter in the other locker asks the holder to let go (through the release file).
    await until(() => first.asked === 1, 2000, 'the holder to be asked to let go')
    expect(granted).toBe(0)
    const released = performance.now()
    await held.release()
    const second = await waiting
    expect(granted - released).toBeLessThan(25 * 4 + 100)
    await expectLocked(a.lock('u1', request(100)))
    await second.release()
    await (await a.lock('u1', request(1000))).release()
    expect(existsSync(lockFile(dir, 'u1'))).toBe(false)
    expect(await readdir(join(dir, '.locks'))).toEqual([])
  })

  it('a holder in another process is asked to let go, releases, and the waiter gets the lock', async () => {
    const dir = await lockDir()
    const holder = startHolder(dir, 'up', 'yield')
    await until(() => holder.lines.some((l) => l.startsWith('locked')), 10_000, 'the child to hold the lock')
    const here = locker(dir)
    const start = performance.now()
    const lock = await here.lock('up', request(5000))
    const waited = performance.now() - start
    await holder.exited // its last line may still be on the way
    expect(holder.lines).toEqual([`locked ${holder.child.pid}`, 'release-requested', 'released'])
    // Asked within ~100 ms (the holder's check), released 20 ms later, found within a poll: far below the timeout.
    expect(waited).toBeLessThan(1500)
    expect(JSON.parse(await readFile(lockFile(dir, 'up'), 'utf8')).pid).toBe(process.pid)
    await lock.release()
  })

  it('takes a lock over at once when its holder process was killed', async () => {
    const dir = await lockDir()
    const holder = startHolder(dir, 'k', 'hold')
    await until(() => holder.lines.some((l) => l.startsWith('locked')), 10_000, 'the child to hold the lock')
    const here = locker(dir, { leaseMs: 10_000 })
    const waiting = here.lock('k', request(8000))
    await until(() => holder.lines.includes('release-requested'), 2000, 'the child to be asked')
    const killed = performance.now()
    holder.child.kill('SIGKILL')
    const lock = await waiting
    // The dead pid is noticed at the next poll: nothing like the 10 s lease.
    expect(performance.now() - killed).toBeLessThan(1000)
    expect(JSON.parse(await readFile(lockFile(dir, 'k'), 'utf8')).pid).toBe(process.pid)
    await lock.release()
  })
})

describe('FileLocker stale locks', () => {
  async function foreignLock(dir: string, id: string, info: Record<string, unknown>, ageMs: number): Promise<string> {
    await mkdir(join(dir, '.locks'), { recursive: true })
    const text = `${JSON.stringify({ token: 'foreign', pid: DEAD_PID, host: 'another-machine', at: Date.now(), ...info })}\n`
    await writeFile(lockFile(dir, id), text)
    const when = new Date(Date.now() - ageMs)
    await utimes(lockFile(dir, id), when, when)
    return text
  }

  it('takes over a lock from another machine whose lease expired, not a fresh one', async () => {
    const dir = await lockDir()
    const here = locker(dir, { leaseMs: 10_000 })
    await foreignLock(dir, 'old', {}, 60_000)
    const fresh = await foreignLock(dir, 'fresh', {}, 0)

    const start = performance.now()
    const lock = await here.lock('old', request(2000))
    expect(performance.now() - start).toBeLessThan(500)
    expect(JSON.parse(await readFile(lockFile(dir, 'old'), 'utf8')).token).not.toBe('foreign')
    await lock.release()

    // Its pid is not running here, but it is another machine's pid: only the lease counts.
    await expectLocked(here.lock('fresh', request(300)))
    expect(await readFile(lockFile(dir, 'fresh'), 'utf8')).toBe(fresh)
  })

  it('takes over a fresh lock of a dead process on this machine, not one from another PID namespace', async () => {
    const dir = await lockDir()
    const here = locker(dir)
    const probe = await here.lock('probe', request())
    const mine = JSON.parse(await readFile(lockFile(dir, 'probe'), 'utf8'))
    await probe.release()
    expect(mine.host).toBe(hostname())

    await foreignLock(dir, 'dead', { host: mine.host, pidns: mine.pidns }, 0)
    await (await here.lock('dead', request(1000))).release()

    const other = await foreignLock(dir, 'container', { host: mine.host, pidns: 'pid:[1]' }, 0)
    await expectLocked(here.lock('container', request(300)))
    expect(await readFile(lockFile(dir, 'container'), 'utf8')).toBe(other)
  })
})

describe('FileLocker racing takeovers', () => {
  it('a waiter that judged a lock stale leaves alone the fresh lock another waiter made in its place', async () => {
    const dir = await lockDir()
    const l = locker(dir, { leaseMs: 10_000 })
    await mkdir(join(dir, '.locks'), { recursive: true })
    const stale = `${JSON.stringify({ token: 'stale', pid: DEAD_PID, host: 'another-machine', at: 0 })}\n`
    await writeFile(lockFile(dir, 'r'), stale)
    await utimes(lockFile(dir, 'r'), new Date(0), new Date(0))
    // Between this waiter judging the lock stale and removing it, another waiter took it over and made its own.
    const fresh = `${JSON.stringify({ token: 'winner', pid: DEAD_PID, host: 'another-machine', at: Date.now() })}\n`
    const internals = l as unknown as { staleness: (...args: unknown[]) => string | undefined }
    const judge = internals.staleness.bind(l)
    let raced = false
    let freshIno = 0
    internals.staleness = (...args) => {
      const why = judge(...args)
      if (why && !raced) {
        raced = true
        unlinkSync(lockFile(dir, 'r'))
        writeFileSync(lockFile(dir, 'r'), fresh, { flag: 'wx' })
        freshIno = statSync(lockFile(dir, 'r')).ino
      }
      return why
    }
    await expectLocked(l.lock('r', request(200)))
    expect(raced).toBe(true)
    expect(await readFile(lockFile(dir, 'r'), 'utf8')).toBe(fresh)
    expect(statSync(lockFile(dir, 'r')).ino).toBe(freshIno) // the very file, put back
    // Nothing left aside.
    expect((await readdir(join(dir, '.locks'))).filter((f) => f.endsWith('.tmp'))).toEqual([])
  })
})

describe('FileLocker waits and lost locks', () => {
  it('a wait times out, or ends when its request is aborted, with UPLOAD_LOCKED', async () => {
    const dir = await lockDir()
    const a = locker(dir)
    const b = locker(dir)
    const held = await a.lock('t', request())
    const start = performance.now()
    await expectLocked(b.lock('t', request(200)))
    expect(performance.now() - start).toBeGreaterThanOrEqual(190)

    const abort = new AbortController()
    const waiting = b.lock('t', request(10_000, abort.signal))
    await sleep(60)
    abort.abort()
    await expectLocked(waiting)
    const sameProcess = new AbortController()
    const local = a.lock('t', request(10_000, sameProcess.signal))
    sameProcess.abort()
    await expectLocked(local)
    await expectLocked(b.lock('t', request(10_000, AbortSignal.abort())))
    await held.release()
    expect(b.size).toBe(0)
    // Nobody waits: no release request is left behind.
    await until(async () => (await readdir(join(dir, '.locks'))).length === 0, 1000, 'the lock directory to be empty')
  })

  it('a holder whose lock file was taken finds out within a third of the lease, and its release leaves the new lock', async () => {
    const dir = await lockDir()
    const here = locker(dir, { leaseMs: 300 })
    const lock = await here.lock('s', request())
    expect(lock.signal?.aborted).toBe(false)
    const before = await stat(lockFile(dir, 's'))
    await sleep(150)
    expect((await stat(lockFile(dir, 's'))).mtimeMs).toBeGreaterThan(before.mtimeMs) // the lease is refreshed

    // Another process judged it stale and took it.
    const theirs = `${JSON.stringify({ token: 'thief', pid: DEAD_PID, host: 'another-machine', at: Date.now() })}\n`
    await unlink(lockFile(dir, 's'))
    await writeFile(lockFile(dir, 's'), theirs, { flag: 'wx' })
    const taken = performance.now()
    await until(() => lock.signal!.aborted, 1000, 'the lock to be lost')
    expect(performance.now() - taken).toBeLessThan(100 + 150)
    await lock.release()
    expect(await readFile(lockFile(dir, 's'), 'utf8')).toBe(theirs)
  })

  it('close() gives up waits and held locks and removes its lock files', async () => {
    const dir = await lockDir()
    const a = new FileLocker({ directory: dir })
    await a.ready()
    const lock = await a.lock('c', request())
    const waiting = expectLocked(a.lock('c', request()))
    await a.close()
    await waiting
    expect(lock.signal?.aborted).toBe(true)
    await lock.release()
    expect(existsSync(lockFile(dir, 'c'))).toBe(false)
    await expectLocked(a.lock('c', request()))
  })
})

describe('FileLocker within one process', () => {
  it('hands the lock to the next waiter on release, in order, asking the holder to let go', async () => {
    const dir = await lockDir()
    const l = locker(dir)
    const order: string[] = []
    const first = request()
    const held = await l.lock('x', first)
    const content = await readFile(lockFile(dir, 'x'), 'utf8')
    const second = l.lock('x', request()).then((lock) => (order.push('second'), lock))
    const third = l.lock('x', request()).then((lock) => (order.push('third'), lock))
    expect(first.asked).toBe(2)
    await sleep(50)
    expect(order).toEqual([])
    await held.release()
    const b = await second
    // Handed over in memory: the same lock file, not a new one.
    expect(await readFile(lockFile(dir, 'x'), 'utf8')).toBe(content)
    expect(order).toEqual(['second'])
    await b.release()
    await (await third).release()
    expect(order).toEqual(['second', 'third'])
    expect(l.size).toBe(0)
    expect(existsSync(lockFile(dir, 'x'))).toBe(false)
  })

  it('refuses ids that are not plain names, and creates nothing for them', async () => {
    const dir = await lockDir()
    const l = locker(dir)
    for (const id of ['', '.', '..', '../x', 'a/b', 'a\\b', '/etc/passwd', 'a%2Fb', 'a b', 'x'.repeat(129), 'é']) {
      await expect(l.lock(id, request()), JSON.stringify(id)).rejects.toBeInstanceOf(TypeError)
    }
    expect(await readdir(dir)).toEqual([])
    // Dot-names the middleware uses for its own locks are fine.
    await (await l.lock('.expiry', request())).release()
    await (await l.lock('a..b', request())).release()
    expect(await readdir(dir)).toEqual(['.locks'])
  })
})

describe('FileLocker with two servers on one directory', () => {
  it('a HEAD on one server takes over a PATCH stalled on the other and sees the bytes it stored', async () => {
    const dir = await lockDir()
    const storeA = new InstrumentedStore(new FileStore({ directory: dir, cacheSize: 0 }))
    const options = { lockTimeout: 10_000, bodyIdleTimeout: 0 }
    const a = await startServer({ store: storeA, locker: locker(dir), ...options })
    const b = await startServer({ store: new FileStore({ directory: dir, cacheSize: 0 }), locker: locker(dir), ...options })
    defer(a.close, b.close)

    const data = randomData(100_000)
    const urlA = await createUpload(a.url, data.length)
    const id = urlA.split('/').pop()!
    const urlB = `${b.url}/${id}`
    const stalled = await rawClient(a.origin)
    await stalled.write(patchHead(new URL(urlA).pathname, 0, data.length))
    await stalled.write(data.subarray(0, 30_000))
    await until(() => storeA.written.get(id) === 30_000, 5000, 'the first bytes to be stored on A')

    const start = performance.now()
    expect(await headOffset(urlB)).toEqual({ status: 200, offset: 30_000 })
    expect(performance.now() - start).toBeLessThan(2000) // the lock wait would be 10 s
    const answer = await stalled.response
    expect(answer.status).toBe(204)
    expect(answer.headers['upload-offset']).toBe('30000')

    expect((await patch(urlB, 30_000, data.subarray(30_000))).status).toBe(204)
    expect(sha256(await readFile(join(dir, `${id}.bin`)))).toBe(sha256(data))
    expect(await headOffset(urlA)).toEqual({ status: 200, offset: data.length })
    stalled.socket.destroy()
  })
})
