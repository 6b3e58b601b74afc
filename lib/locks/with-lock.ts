/**
 * Holding an upload's lock for a request: the request tells the locker when its client goes away, answers a
 * takeover (a newer request for the same upload) by stopping its body, and keeps the lock it holds in
 * `ctx.lock`, whose signal says when the lock is lost.
 */
import type { Context } from '../context.js'
import type { LockOptions } from './locker.js'

/**
 * What a request tells the locker. Not an object literal with a getter: with one, what it references (the
 * whole request) survived V8's young-generation collections and was promoted, about 2 KB per HEAD (measured
 * with --trace-gc-nvp), a fifth of HEAD throughput. `signal` is still an own, enumerable property (one shared
 * getter), so a locker that copies its options (`{ ...options }`) still gets it.
 */
class LockRequest implements LockOptions {
  readonly timeout: number
  declare readonly signal: AbortSignal
  private abort: AbortController | undefined
  private onClose: (() => void) | undefined

  constructor(private readonly ctx: Context) {
    this.timeout = ctx.options.lockTimeout
    Object.defineProperty(this, 'signal', SIGNAL)
  }

  /**
   * Aborted when the waiting client goes away. That costs an AbortController and a listener; a locker only
   * reads it when it has to wait, so it is made on first use: an uncontended lock never pays for it.
   */
  makeSignal(): AbortSignal {
    if (!this.abort) {
      const { res } = this.ctx
      const abort = new AbortController()
      this.abort = abort
      this.onClose = () => {
        if (!res.writableEnded) abort.abort()
      }
      res.once('close', this.onClose)
      // The client may already have gone while a locker awaited something before asking for the signal.
      if (!res.writableEnded && (res.destroyed || res.socket?.destroyed)) abort.abort()
    }
    return this.abort.signal
  }

  /** Asked before the body is being read (still loading the upload): receive() then reads none of it. */
  readonly onReleaseRequested = (): void => {
    this.ctx.releaseRequested = true
    this.ctx.reader?.stop('released')
  }

  /** The wait is over (granted or not): the client going away no longer matters to it. */
  settled(): void {
    if (this.onClose) this.ctx.res.off('close', this.onClose)
  }
}

const SIGNAL: PropertyDescriptor = {
  get(this: LockRequest) {
    return this.makeSignal()
  },
  enumerable: true,
  configurable: true,
}

/**
 * Runs `fn` holding the upload's lock. A later request for the same upload asks this one to let go: the body
 * being read (if any) stops, keeps what it has, and the request answers.
 */
export async function withLock<T>(ctx: Context, id: string, fn: () => Promise<T>): Promise<T> {
  const request = new LockRequest(ctx)
  let lock
  try {
    lock = await ctx.options.locker.lock(id, request)
  } finally {
    request.settled()
  }
  // Nested locks (a final's, then a part's) each stand for the lock that is held innermost.
  const outer = ctx.lock
  ctx.lock = lock
  const onLost = () => ctx.reader?.stop('lost')
  lock.signal?.addEventListener('abort', onLost, { once: true })
  try {
    return await fn()
  } finally {
    lock.signal?.removeEventListener('abort', onLost)
    ctx.lock = outer
    await lock.release()
  }
}
