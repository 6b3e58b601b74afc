/**
 * In-process locker. Waiting is event-driven: a release hands the lock straight to the next waiter (FIFO).
 * Every new waiter asks the current holder to let go, so a client that reconnects while its old request hangs
 * on a dead connection takes over at once (spec: core, PATCH: detect and handle network errors).
 */
import { TusError } from '../errors.js'
import type { Lock, LockOptions, Locker } from './locker.js'

interface Waiter {
  grant: (lock: Lock) => void
  options: LockOptions
}

interface Entry {
  holder: LockOptions
  waiters: Waiter[]
}

export class MemoryLocker implements Locker {
  private readonly entries = new Map<string, Entry>()

  /** Number of uploads currently locked (for tests and metrics). */
  get size(): number {
    return this.entries.size
  }

  lock(id: string, options: LockOptions): Promise<Lock> {
    const entry = this.entries.get(id)
    if (!entry) {
      const created: Entry = { holder: options, waiters: [] }
      this.entries.set(id, created)
      return Promise.resolve(this.handle(id, created))
    }
    return new Promise<Lock>((resolve, reject) => {
      const waiter: Waiter = { grant: resolve, options }
      const giveUp = (err: unknown) => {
        const i = entry.waiters.indexOf(waiter)
        if (i !== -1) entry.waiters.splice(i, 1)
        cleanup()
        reject(err)
      }
      const timer = setTimeout(() => giveUp(new TusError('UPLOAD_LOCKED')), options.timeout)
      const onAbort = () => giveUp(new TusError('UPLOAD_LOCKED', 'Request aborted while waiting for the upload'))
      const cleanup = () => {
        clearTimeout(timer)
        options.signal?.removeEventListener('abort', onAbort)
      }
      waiter.grant = (lock) => {
        cleanup()
        resolve(lock)
      }
      if (options.signal?.aborted) return onAbort()
      options.signal?.addEventListener('abort', onAbort, { once: true })
      entry.waiters.push(waiter)
      this.askToRelease(entry.holder)
    })
  }

  private askToRelease(holder: LockOptions): void {
    try {
      holder.onReleaseRequested()
    } catch {
      // A holder's callback failing must not stop the waiter; the timeout still bounds the wait.
    }
  }

  private handle(id: string, entry: Entry): Lock {
    let released = false
    return {
      release: () => {
        if (released) return
        released = true
        const next = entry.waiters.shift()
        if (!next) {
          this.entries.delete(id)
          return
        }
        entry.holder = next.options
        next.grant(this.handle(id, entry))
        // Waiters still queued behind the new holder keep asking it to let go.
        if (entry.waiters.length > 0) this.askToRelease(entry.holder)
      },
    }
  }
}
