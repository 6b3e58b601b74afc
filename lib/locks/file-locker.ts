/**
 * A Locker for several processes serving one FileStore directory, on one machine or on a shared file system
 * (NFSv3 or later: it needs O_EXCL create, rename and, for its safety checks, hard links). No dependency, no
 * daemon: a held lock is a file `<directory>/.locks/<id>.lock` created with O_EXCL. The leading dot keeps the
 * lock directory out of FileStore's listing, and upload ids never start with a dot.
 *
 * - **Lease.** The holding process refreshes the lock file's mtime every leaseMs/3 and reads the file back each
 *   time: if it no longer holds its token (another process judged it stale and took it), or refreshing has
 *   failed for longer than the lease, the Lock's `signal` aborts (the lock is lost).
 * - **Stale locks.** A lock file is stale when its holder ran on this machine (same host name and, on Linux, same
 *   PID namespace) and its process is gone, or when its mtime is older than leaseMs (a holder on another machine,
 *   or one that hangs). A waiter takes a stale lock over at once. A pid reused by another process, or a killed
 *   holder not yet reaped by its parent (a zombie), looks alive: then the lease decides, leaseMs later.
 * - **Racing takeovers.** Two waiters may judge the same lock stale at once. Each moves the file aside with rename
 *   (atomic) and removes it only if it is the very file it judged (inode, mtime and content); otherwise it puts
 *   it back with link(), which fails rather than replace a newer lock. Residual window: while a fresh lock is
 *   aside (a few milliseconds), a third waiter can create its own; both then hold it until the displaced holder's
 *   next refresh (at most leaseMs/3) finds a foreign token and aborts its `signal`.
 * - **Same process.** Requests of one process queue in memory in front of the file, first come first served, and
 *   a release hands the lock (file and all) straight to the next one: no polling, no file I/O. Every new waiter
 *   asks the holder to let go (`onReleaseRequested`), as MemoryLocker does.
 * - **Other processes.** A process without the lock polls (one O_EXCL create per pollMs and id, whatever the
 *   number of its waiting requests) and carries takeover requests through `<id>.release`: it touches that file
 *   when it starts waiting and every 250 ms; the holder stats it every 100 ms and asks its request to let go when
 *   the file was touched since the lock was granted. Nothing is polled for uploads nobody waits for.
 * - **Fairness.** Within a process, FIFO. Across processes there is no queue: whoever creates the file first after
 *   a release wins, and a process hands the lock to its own queued requests before giving the file up. Remote
 *   waiters still ask every new holder to let go, and a process's queue is finite, so they are served.
 * - **Clocks.** Lease and release-request times are compared across machines: their clocks must agree to well
 *   within leaseMs (NTP does). A waiter also counts a lock file whose mtime has not moved for leaseMs of its own
 *   clock as stale, so a holder whose clock runs ahead cannot keep a lock forever.
 * - **No fencing token.** `fence` is left undefined: a counter that grows across grants would have to survive the
 *   lock file (removed on release), i.e. one more file per upload that the locker cannot know when to delete, and
 *   a read-increment-write of it is only as safe as the exclusion it is meant to back up.
 */
import createDebug from 'debug'
import { randomBytes } from 'node:crypto'
import { readlinkSync } from 'node:fs'
import { link, mkdir, open, readFile, rename, stat, unlink, utimes, writeFile } from 'node:fs/promises'
import { hostname } from 'node:os'
import { join, resolve, sep } from 'node:path'
import { TusError } from '../errors.js'
import type { Lock, LockOptions, Locker } from './locker.js'

const debug = createDebug('tus-middleware:locker:file')

export interface FileLockerOptions {
  /** The FileStore directory (shared by every process). Locks live in its `.locks` subdirectory. */
  directory: string
  /**
   * Milliseconds a lock file stays valid without a refresh (default 10 000). The holder refreshes it every
   * leaseMs/3; a lock whose holder hangs or runs on a machine that went away is taken over after leaseMs. A lock
   * whose holder died on this machine is taken over at once.
   */
  leaseMs?: number
  /** Milliseconds between attempts of a process waiting for a lock held by another process (default 25). */
  pollMs?: number
}

/** Ids the middleware locks: upload ids, and special names starting with a dot (e.g. '.expiry'). */
const ID = /^[A-Za-z0-9_.~-]{1,128}$/
/** How often a waiting process renews its release request (the holder acts on a request newer than its grant). */
const RELEASE_TOUCH_MS = 250
/** How often a holding process looks for a release request from another process. */
const RELEASE_CHECK_MS = 100

/**
 * Tokens of the locks this process holds, shared by every FileLocker (and every copy of this module: ESM and
 * CJS builds loaded side by side). A lock file naming this process's pid with a token not in here was left by an
 * earlier process that had the same pid (a restarted container is pid 1 every time): it is stale.
 */
const HELD: Set<string> = ((globalThis as Record<symbol, unknown>)[Symbol.for('tus-middleware.FileLocker.held')] ??=
  new Set<string>()) as Set<string>

interface LockInfo {
  token: string
  pid: number
  host: string
  /** The PID namespace (Linux), so containers sharing a host name and a volume never judge each other's pids. */
  pidns?: string
  at: number
}

/** A lock file as read: its content and identity (inode and mtime, to tell whether it changed since). */
interface Seen {
  text: string
  info: LockInfo | undefined
  ino: bigint
  mtimeNs: bigint
  mtimeMs: number
}

let machine: { host: string; pidns: string | undefined } | undefined
function thisMachine(): { host: string; pidns: string | undefined } {
  if (!machine) {
    let pidns: string | undefined
    try {
      pidns = readlinkSync('/proc/self/ns/pid')
    } catch {
      pidns = undefined // not Linux: the host name alone
    }
    machine = { host: hostname(), pidns }
  }
  return machine
}

function parseInfo(text: string): LockInfo | undefined {
  try {
    const info = JSON.parse(text) as LockInfo
    if (typeof info?.token === 'string' && Number.isSafeInteger(info.pid) && typeof info.host === 'string') return info
  } catch {
    // Empty (being written) or foreign content: judged by its mtime alone.
  }
  return undefined
}

/** False only when the process is known to be gone (EPERM: it exists, owned by another user). */
function alive(pid: number): boolean {
  if (pid <= 0) return false
  try {
    process.kill(pid, 0)
    return true
  } catch (err) {
    return (err as NodeJS.ErrnoException).code !== 'ESRCH'
  }
}

const code = (err: unknown): string | undefined => (err as NodeJS.ErrnoException | undefined)?.code
const token = (): string => randomBytes(16).toString('hex')
const ignore = (): void => {}

async function readSeen(path: string): Promise<Seen | undefined> {
  let fh
  try {
    fh = await open(path, 'r')
  } catch (err) {
    if (code(err) === 'ENOENT') return undefined
    throw err
  }
  try {
    // Content and identity from one open file: they belong to the same inode.
    const st = await fh.stat({ bigint: true })
    const text = await fh.readFile('utf8')
    return { text, info: parseInfo(text), ino: st.ino, mtimeNs: st.mtimeNs, mtimeMs: Number(st.mtimeNs / 1_000_000n) }
  } finally {
    await fh.close()
  }
}

const sameFile = (a: Seen, b: Seen): boolean => a.ino === b.ino && a.mtimeNs === b.mtimeNs && a.text === b.text

interface Waiter {
  options: LockOptions
  /** Starts listening to the request's signal (only once it really has to wait: reading it has a cost). */
  watch(): void
  grant(lock: Lock): void
  fail(err: unknown): void
}

/** This process holds the lock file. */
interface Held {
  token: string
  lost: boolean
  /** Date.now() of the last refresh that found the file ours. */
  refreshed: number
  refreshing: boolean
  checking: boolean
  refreshTimer: NodeJS.Timeout
  checkTimer: NodeJS.Timeout
  /** The request holding it now (always set while held: hand-offs are synchronous). */
  grant: Grant | undefined
}

interface Entry {
  id: string
  lockPath: string
  releasePath: string
  waiters: Waiter[]
  held: Held | undefined
  /** Set while the lock file is being removed after the last holder released. */
  releasing: Promise<void> | undefined
  pumping: boolean
  /** Ends the poll sleep early (the last waiter gave up, or the locker closes). */
  wake: (() => void) | undefined
  /** Date.now() of this process's last touch of the release file while waiting (0: not touched yet). */
  touched: number
  /** The lock file last seen while waiting, and since when (monotonic clock) it has not changed. */
  seen: { key: string; since: number } | undefined
}

/** One grant to one request: the Lock the middleware holds. */
class Grant implements Lock {
  readonly fence = undefined
  /** Date.now() when granted: release requests touched before it were meant for an earlier holder. */
  readonly at = Date.now()
  asked = false
  released = false
  private controller: AbortController | undefined
  private lost = false

  constructor(
    readonly options: LockOptions,
    private readonly onRelease: (grant: Grant) => Promise<void>,
  ) {}

  /** Made on first use: most holders never look at it. */
  get signal(): AbortSignal {
    this.controller ??= new AbortController()
    if (this.lost && !this.controller.signal.aborted) this.controller.abort(new Error('The upload lock was lost'))
    return this.controller.signal
  }

  lose(): void {
    this.lost = true
    this.controller?.abort(new Error('The upload lock was lost'))
  }

  ask(): void {
    this.asked = true
    try {
      this.options.onReleaseRequested()
    } catch {
      // A holder's callback failing must not stop the waiter; the timeout still bounds the wait.
    }
  }

  release(): Promise<void> {
    if (this.released) return Promise.resolve()
    this.released = true
    return this.onRelease(this)
  }
}

export class FileLocker implements Locker {
  private readonly locksDir: string
  private readonly leaseMs: number
  private readonly pollMs: number
  private readonly entries = new Map<string, Entry>()
  private closed = false

  constructor(options: FileLockerOptions) {
    if (typeof options?.directory !== 'string' || options.directory === '') {
      throw new TypeError('FileLocker: option "directory" must be a non-empty string')
    }
    const leaseMs = options.leaseMs ?? 10_000
    const pollMs = options.pollMs ?? 25
    if (!Number.isSafeInteger(leaseMs) || leaseMs < 30) throw new TypeError('FileLocker: option "leaseMs" must be an integer >= 30')
    if (!Number.isSafeInteger(pollMs) || pollMs < 1) throw new TypeError('FileLocker: option "pollMs" must be an integer >= 1')
    this.locksDir = join(resolve(options.directory), '.locks')
    this.leaseMs = leaseMs
    this.pollMs = pollMs
  }

  /** Number of ids this process holds or waits for (for tests and metrics). */
  get size(): number {
    return this.entries.size
  }

  /** Resolves once the lock directory exists and a file can be created in it. */
  async ready(): Promise<void> {
    await mkdir(this.locksDir, { recursive: true })
    const probe = join(this.locksDir, `.probe.${token()}.tmp`)
    await writeFile(probe, '', { flag: 'wx' })
    await unlink(probe)
  }

  lock(id: string, options: LockOptions): Promise<Lock> {
    let entry: Entry
    try {
      checkId(id)
      if (this.closed) throw new TusError('UPLOAD_LOCKED', 'The upload locker is closed')
      entry = this.entry(id)
    } catch (err) {
      return Promise.reject(err)
    }
    return new Promise<Lock>((resolvePromise, rejectPromise) => {
      let settled = false
      let watching = false
      const done = () => {
        settled = true
        clearTimeout(timer)
        if (watching) options.signal?.removeEventListener('abort', onAbort)
      }
      const giveUp = (err: unknown) => {
        if (settled) return
        done()
        const i = entry.waiters.indexOf(waiter)
        if (i !== -1) entry.waiters.splice(i, 1)
        if (entry.waiters.length === 0) entry.wake?.()
        this.forgetIfIdle(entry)
        rejectPromise(err)
      }
      const onAbort = () => giveUp(new TusError('UPLOAD_LOCKED', 'Request aborted while waiting for the upload'))
      const waiter: Waiter = {
        options,
        watch: () => {
          if (watching || settled) return
          watching = true
          if (options.signal?.aborted) return onAbort()
          options.signal?.addEventListener('abort', onAbort, { once: true })
        },
        grant: (lock) => {
          done()
          resolvePromise(lock)
        },
        fail: giveUp,
      }
      // Not unref'd: a pending lock() keeps the process alive until it settles, which this bounds.
      const timer = setTimeout(() => giveUp(new TusError('UPLOAD_LOCKED')), options.timeout)
      entry.waiters.push(waiter)
      if (entry.held) {
        // Held by a request of this process: queue behind it and ask it to let go.
        waiter.watch()
        entry.held.grant?.ask()
      } else {
        void this.pump(entry)
      }
    })
  }

  /** Gives up every wait and every lock this process holds, and stops its timers. */
  async close(): Promise<void> {
    if (this.closed) return
    this.closed = true
    const removing: Promise<void>[] = []
    for (const entry of [...this.entries.values()]) {
      for (const waiter of [...entry.waiters]) waiter.fail(new TusError('UPLOAD_LOCKED', 'The upload locker is closed'))
      entry.wake?.()
      const held = entry.held
      if (held && !held.lost) {
        this.lose(entry, held, 'closed')
        removing.push(this.removeIfOurs(entry, held.token))
      }
    }
    await Promise.all(removing)
    this.entries.clear()
  }

  private entry(id: string): Entry {
    let entry = this.entries.get(id)
    if (!entry) {
      const lockPath = join(this.locksDir, `${id}.lock`)
      if (!lockPath.startsWith(this.locksDir + sep)) throw new TypeError(`FileLocker: invalid lock id ${JSON.stringify(id)}`)
      entry = {
        id,
        lockPath,
        releasePath: join(this.locksDir, `${id}.release`),
        waiters: [],
        held: undefined,
        releasing: undefined,
        pumping: false,
        wake: undefined,
        touched: 0,
        seen: undefined,
      }
      this.entries.set(id, entry)
    }
    return entry
  }

  private forgetIfIdle(entry: Entry): void {
    if (entry.waiters.length === 0 && !entry.held && !entry.releasing && !entry.pumping && this.entries.get(entry.id) === entry) {
      this.entries.delete(entry.id)
    }
  }

  /**
   * Gets the lock file for the queued requests of this process: one attempt per pollMs at most, however many
   * requests wait. Runs once per id at a time.
   */
  private async pump(entry: Entry): Promise<void> {
    if (entry.pumping) return
    entry.pumping = true
    let touched = false
    try {
      if (entry.releasing) await entry.releasing
      while (entry.waiters.length > 0 && !entry.held && !this.closed) {
        const ours = token()
        let got: boolean
        try {
          got = await this.acquire(entry, ours)
        } catch (err) {
          debug('lock %s: %s', entry.id, (err as Error).message)
          for (const waiter of [...entry.waiters]) waiter.fail(err)
          break
        }
        if (got) {
          entry.seen = undefined
          if (entry.waiters.length === 0 || this.closed) {
            // Everyone gave up while the file was being created.
            await this.removeIfOurs(entry, ours)
            break
          }
          this.hold(entry, ours)
          this.handOff(entry)
          break
        }
        for (const waiter of [...entry.waiters]) waiter.watch()
        if (entry.waiters.length === 0) break
        if (Date.now() - entry.touched >= RELEASE_TOUCH_MS) {
          touched = true
          await this.requestRelease(entry)
        }
        if (entry.waiters.length === 0) break
        await this.sleep(entry)
      }
    } finally {
      entry.pumping = false
      entry.touched = 0
      // Nobody here waits any more. A process still waiting elsewhere touches the file again within 250 ms.
      if (touched) unlink(entry.releasePath).catch(ignore)
      this.forgetIfIdle(entry)
    }
  }

  private sleep(entry: Entry): Promise<void> {
    return new Promise((wake) => {
      const done = () => {
        clearTimeout(timer)
        entry.wake = undefined
        wake()
      }
      const timer = setTimeout(done, this.pollMs)
      timer.unref()
      entry.wake = done
    })
  }

  /** One attempt: create the lock file, or take a stale one over and create it then. */
  private async acquire(entry: Entry, ours: string): Promise<boolean> {
    const { host, pidns } = thisMachine()
    const content = `${JSON.stringify({ token: ours, pid: process.pid, host, pidns, at: Date.now() })}\n`
    // Registered before the file exists, so another FileLocker of this process never takes it for a leftover.
    HELD.add(ours)
    let madeDir = false
    let stole = false
    let created = false
    try {
      for (;;) {
        try {
          await createExclusive(entry.lockPath, content)
          created = true
          return true
        } catch (err) {
          if (code(err) === 'ENOENT' && !madeDir) {
            madeDir = true
            await mkdir(this.locksDir, { recursive: true })
            continue
          }
          if (code(err) !== 'EEXIST') throw err
        }
        if (stole || !(await this.takeIfStale(entry))) return false
        stole = true
      }
    } finally {
      if (!created) HELD.delete(ours)
    }
  }

  /** True when the lock file is gone or was stale and is now removed: worth one more create at once. */
  private async takeIfStale(entry: Entry): Promise<boolean> {
    const seen = await readSeen(entry.lockPath)
    if (!seen) return true // released meanwhile
    const why = this.staleness(entry, seen)
    if (!why) return false
    // Take the file out of the way with rename, not unlink: another waiter may have taken the same stale lock
    // over a moment ago and created its own in its place; unlinking by name would remove that fresh one. The
    // renamed file is ours alone to inspect: the stale one we judged goes; anything else is put back.
    const aside = join(this.locksDir, `${entry.id}.${token()}.tmp`)
    try {
      await rename(entry.lockPath, aside)
    } catch (err) {
      if (code(err) === 'ENOENT') return true
      throw err
    }
    const taken = await readSeen(aside).catch(() => undefined)
    if (taken && sameFile(taken, seen)) {
      debug('lock %s: took over a stale lock (%s) %s', entry.id, why, seen.text.trim())
      await unlink(aside).catch(ignore)
      entry.seen = undefined
      return true
    }
    // A lock created or refreshed since we looked: put it back, unless yet another one exists by now (then its
    // holder and the displaced one both believe they hold it until the displaced one's next refresh, at most
    // leaseMs/3 later, finds a foreign token and aborts its signal).
    await restore(aside, entry.lockPath)
    return false
  }

  /** Why a lock file of another holder is stale, or undefined while it is valid. */
  private staleness(entry: Entry, seen: Seen): string | undefined {
    const info = seen.info
    const here = thisMachine()
    if (info && info.host === here.host && (info.pidns ?? undefined) === here.pidns) {
      if (info.pid === process.pid ? !HELD.has(info.token) : !alive(info.pid)) return 'its process is gone'
    }
    if (Date.now() - seen.mtimeMs > this.leaseMs) return 'lease expired'
    // Not refreshed for a lease by our own clock: a holder whose clock runs ahead does not keep it forever.
    const key = `${seen.ino}:${seen.mtimeNs}:${seen.text}`
    const now = performance.now()
    if (entry.seen?.key !== key) {
      entry.seen = { key, since: now }
      return undefined
    }
    return now - entry.seen.since > this.leaseMs ? 'not refreshed for a lease' : undefined
  }

  /** Asks the holder in another process to let go: the release file's mtime is the time of the request. */
  private async requestRelease(entry: Entry): Promise<void> {
    entry.touched = Date.now()
    const now = new Date()
    try {
      await utimes(entry.releasePath, now, now)
    } catch (err) {
      if (code(err) !== 'ENOENT') return
      try {
        await writeFile(entry.releasePath, '', { flag: 'a' })
        await utimes(entry.releasePath, now, now)
      } catch {
        // Best effort: without it the wait is bounded by the holder finishing, or by the timeout.
      }
    }
  }

  private hold(entry: Entry, ours: string): void {
    const held: Held = {
      token: ours,
      lost: false,
      refreshed: Date.now(),
      refreshing: false,
      checking: false,
      refreshTimer: setInterval(() => void this.refresh(entry, held), Math.max(10, Math.floor(this.leaseMs / 3))),
      checkTimer: setInterval(() => void this.checkRelease(entry, held), RELEASE_CHECK_MS),
      grant: undefined,
    }
    held.refreshTimer.unref()
    held.checkTimer.unref()
    entry.held = held
  }

  /** Gives the held lock to the first queued request of this process. */
  private handOff(entry: Entry): void {
    const held = entry.held!
    const waiter = entry.waiters.shift()!
    const grant = new Grant(waiter.options, (g) => this.release(entry, held, g))
    held.grant = grant
    waiter.grant(grant)
    // Requests still queued behind the new holder keep asking it to let go.
    if (entry.waiters.length > 0) grant.ask()
  }

  private async release(entry: Entry, held: Held, grant: Grant): Promise<void> {
    if (held.grant === grant) held.grant = undefined
    if (entry.held !== held) return // the locker was closed
    if (!held.lost && !this.closed && entry.waiters.length > 0) return this.handOff(entry)
    entry.held = undefined
    clearInterval(held.refreshTimer)
    clearInterval(held.checkTimer)
    if (held.lost) {
      // Not ours any more: nothing to remove. Requests queued here wait for the file like any other process.
      if (entry.waiters.length > 0) void this.pump(entry)
      this.forgetIfIdle(entry)
      return
    }
    const removing = this.removeIfOurs(entry, held.token)
    entry.releasing = removing
    try {
      await removing
    } finally {
      entry.releasing = undefined
      if (entry.waiters.length > 0 && !this.closed) void this.pump(entry)
      this.forgetIfIdle(entry)
    }
  }

  /** Removes the lock file if it still holds `ours`; never throws (a lock already lost is simply gone). */
  private async removeIfOurs(entry: Entry, ours: string): Promise<void> {
    const aside = join(this.locksDir, `${entry.id}.${token()}.tmp`)
    try {
      // Rename first, then check: a check by name and an unlink by name could remove a lock another process
      // created in between (after judging ours stale because this process stopped refreshing it).
      await rename(entry.lockPath, aside)
    } catch (err) {
      if (code(err) !== 'ENOENT') debug('lock %s: release: %s', entry.id, (err as Error).message)
      HELD.delete(ours)
      return
    }
    try {
      const taken = await readSeen(aside).catch(() => undefined)
      if (taken?.info?.token === ours) await unlink(aside).catch(ignore)
      else await restore(aside, entry.lockPath)
    } finally {
      HELD.delete(ours)
    }
  }

  /** Keeps the lease: checks the file still holds our token, then moves its mtime. */
  private async refresh(entry: Entry, held: Held): Promise<void> {
    if (held.refreshing || held.lost) return
    held.refreshing = true
    try {
      let text: string | undefined
      try {
        text = await readFile(entry.lockPath, 'utf8')
      } catch (err) {
        if (code(err) !== 'ENOENT') throw err
      }
      if (held.lost) return
      if (text === undefined || parseInfo(text)?.token !== held.token) return this.lose(entry, held, 'taken by another holder')
      const now = new Date()
      try {
        await utimes(entry.lockPath, now, now)
      } catch (err) {
        if (code(err) === 'ENOENT') return this.lose(entry, held, 'taken by another holder')
        throw err
      }
      held.refreshed = Date.now()
    } catch (err) {
      // A transient I/O error: the lease still holds until leaseMs after the last good refresh.
      debug('lock %s: refresh: %s', entry.id, (err as Error).message)
      if (!held.lost && Date.now() - held.refreshed > this.leaseMs) this.lose(entry, held, 'lease not refreshed')
    } finally {
      held.refreshing = false
    }
  }

  private lose(entry: Entry, held: Held, why: string): void {
    if (held.lost) return
    debug('lock %s: lost (%s)', entry.id, why)
    held.lost = true
    clearInterval(held.refreshTimer)
    clearInterval(held.checkTimer)
    if (why !== 'closed') HELD.delete(held.token)
    held.grant?.lose()
  }

  /** A release request from another process, touched since the current request got the lock. */
  private async checkRelease(entry: Entry, held: Held): Promise<void> {
    const grant = held.grant
    if (held.checking || held.lost || !grant || grant.asked) return
    held.checking = true
    try {
      const st = await stat(entry.releasePath)
      if (st.mtimeMs >= grant.at && held.grant === grant && !held.lost && !grant.asked) {
        debug('lock %s: another process asks for it', entry.id)
        grant.ask()
      }
    } catch {
      // No request (ENOENT), or unreadable: nothing to do.
    } finally {
      held.checking = false
    }
  }
}

/** Creates `path` only if it does not exist, with `content`. */
async function createExclusive(path: string, content: string): Promise<void> {
  const fh = await open(path, 'wx')
  try {
    await fh.writeFile(content)
  } catch (err) {
    await fh.close().catch(ignore)
    await unlink(path).catch(ignore)
    throw err
  }
  await fh.close()
}

/** Never build a path from an unchecked id: URL-safe characters only (no separator), and not '.' or '..'. */
function checkId(id: string): void {
  if (typeof id !== 'string' || !ID.test(id) || /^\.+$/.test(id)) {
    throw new TypeError(`FileLocker: invalid lock id ${JSON.stringify(String(id)).slice(0, 140)}`)
  }
}

/**
 * Puts a lock file moved aside back in place, unless a lock file exists there by now. link() does that
 * atomically; where hard links are not supported, a rename after checking is close (a create between the two
 * would be replaced: its holder finds a foreign token at its next refresh).
 */
async function restore(aside: string, path: string): Promise<void> {
  try {
    await link(aside, path)
  } catch (err) {
    if (code(err) !== 'EEXIST') {
      const exists = await stat(path).then(
        () => true,
        () => false,
      )
      if (!exists) await rename(aside, path).catch(ignore)
    }
  }
  await unlink(aside).catch(ignore)
}
