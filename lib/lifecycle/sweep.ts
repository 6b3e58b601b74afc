/**
 * The sweep that removes expired uploads (spec: expiration): on demand, and on an unref'd timer that never
 * keeps a process alive. The store names the candidates (uploads idle for `expireAfter`), so a sweep does not
 * read every upload; each is checked by the one expiry rule and removed under its own lock. Processes sharing
 * a store take turns through the locker: while one sweeps, the others skip their turn.
 */
import createDebug from 'debug'
import type { Server } from '../context.js'
import type { Lock } from '../locks/locker.js'
import type { Upload } from '../upload.js'
import { isExpired, removeExpired, withExpiry } from './expiry.js'

const debug = createDebug('tus-middleware:expiration')

/** The lock name of the sweep: never an upload id (those cannot start with a dot). */
const SWEEP_LOCK = '.expiry'

export interface Sweeper {
  run(): Promise<Upload[]>
  stop(): void
}

const noop = (): void => {}

export function startSweeper(server: Server): Sweeper {
  const { options } = server
  let running: Promise<Upload[]> | undefined
  const run = (): Promise<Upload[]> => {
    if (options.expireAfter === undefined) return Promise.resolve([])
    running ??= sweepOnce(server).finally(() => (running = undefined))
    return running
  }
  let timer: NodeJS.Timeout | undefined
  if (options.expireAfter !== undefined && options.cleanupInterval > 0) {
    timer = setInterval(() => {
      run().catch((err) => debug('cleanup failed: %s', (err as Error)?.message ?? err))
    }, options.cleanupInterval)
    timer.unref()
  }
  return {
    run,
    stop: () => {
      if (timer) clearInterval(timer)
      timer = undefined
    },
  }
}

/**
 * How long a sweep waits for its turn. Long enough for a locker that takes a few round trips to grant a free
 * lock (files, a remote Redis); short, since a sweep that is already running makes this one unnecessary.
 */
const TURN_WAIT_MS = 1000

async function sweepOnce(server: Server): Promise<Upload[]> {
  const { locker, lockTimeout } = server.options
  let turn: Lock
  try {
    turn = await locker.lock(SWEEP_LOCK, { timeout: Math.min(lockTimeout, TURN_WAIT_MS), onReleaseRequested: noop })
  } catch {
    debug('another sweep is running: skipped')
    return []
  }
  try {
    return await sweep(server, turn)
  } finally {
    await turn.release()
  }
}

async function sweep(server: Server, turn: Lock): Promise<Upload[]> {
  const { store, locker, lockTimeout, expireAfter } = server.options
  const removed: Upload[] = []
  for await (const listed of store.idle!(Date.now() - expireAfter!)) {
    if (turn.signal?.aborted) break
    if (!(await isExpired(server, listed))) continue
    let lock
    try {
      // Asking for the lock also stops a request stalled on the upload.
      lock = await locker.lock(listed.id, { timeout: lockTimeout, onReleaseRequested: noop })
    } catch {
      continue // busy: it is looked at again next time
    }
    try {
      const current = await store.get(listed.id)
      if (current && !lock.signal?.aborted && (await isExpired(server, current)) && (await removeExpired(server, current))) {
        removed.push(withExpiry(server.options, current))
      }
    } finally {
      await lock.release()
    }
  }
  if (removed.length > 0) debug('cleanup removed %d uploads', removed.length)
  return removed
}
