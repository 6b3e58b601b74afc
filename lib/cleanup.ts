/**
 * The cleanup of expired uploads (spec: expiration): on demand, and on an unref'd timer so that it never
 * keeps a process alive. One run at a time; each expired upload is re-checked under its lock before removal.
 */
import createDebug from 'debug'
import type { Server } from './context.js'
import { isExpired, removeExpired, withExpiry } from './expiration.js'
import { finalActivity } from './handlers/concat.js'
import type { Upload } from './upload.js'

const debug = createDebug('tus-middleware:expiration')

export interface Cleaner {
  run(): Promise<Upload[]>
  stop(): void
}

export function startCleanup(server: Server): Cleaner {
  const { options } = server
  let running: Promise<Upload[]> | undefined
  const run = (): Promise<Upload[]> => {
    if (options.expireAfter === undefined) return Promise.resolve([])
    running ??= sweep(server).finally(() => (running = undefined))
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

/** An unfinished final upload is as active as its parts. */
const activity = (server: Server, upload: Upload): Promise<Upload> | Upload =>
  upload.concat?.type === 'final' ? finalActivity(server.options.store, upload) : upload

async function sweep(server: Server): Promise<Upload[]> {
  const { store, locker, lockTimeout } = server.options
  const removed: Upload[] = []
  for await (const listed of store.list!()) {
    if (!isExpired(server.options, await activity(server, listed))) continue
    let lock
    try {
      // Asking for the lock also stops a request stalled on the upload.
      lock = await locker.lock(listed.id, { timeout: lockTimeout, onReleaseRequested: () => {} })
    } catch {
      continue // busy: it is looked at again next time
    }
    try {
      const current = await store.get(listed.id)
      if (current && isExpired(server.options, await activity(server, current)) && (await removeExpired(server, current))) {
        removed.push(withExpiry(server.options, current))
      }
    } finally {
      await lock.release()
    }
  }
  if (removed.length > 0) debug('cleanup removed %d uploads', removed.length)
  return removed
}
