/**
 * Getting at an existing upload: the lock (with takeover), the lookup, and the authorize hook.
 */
import type { Context } from '../context.js'
import { TusError } from '../errors.js'
import type { LockOptions } from '../locks/locker.js'
import type { Action } from '../options.js'
import { isExpired, refuseExpired, withExpiry } from '../expiration.js'
import { snapshot, type Upload } from '../upload.js'

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
  try {
    return await fn()
  } finally {
    await lock.release()
  }
}

/**
 * Counts a request that receives upload bytes against maxConcurrentUploads for as long as `fn` runs;
 * over the limit it is refused at once (503 TOO_MANY_UPLOADS with Retry-After), before the lock or the store.
 */
export async function admitUpload<T>(ctx: Context, fn: () => Promise<T>): Promise<T> {
  const { server } = ctx
  if (server.receiving >= ctx.options.maxConcurrentUploads) throw new TusError('TOO_MANY_UPLOADS')
  server.receiving++
  try {
    return await fn()
  } finally {
    server.receiving--
  }
}

interface LoadOptions {
  /** Ask the authorize hook (false when the caller already did). */
  authorize?: boolean
  /** Remove an expired upload (only under its lock); false just answers 410. */
  removeExpired?: boolean
}

/**
 * The upload named by the URL, after the authorize hook agreed; 404 when there is none, 410 when it expired
 * (spec: expiration), and removed then if the caller holds the lock. An unfinished final upload is checked by
 * settleFinal instead, as it is as active as its parts.
 */
export async function loadUpload(ctx: Context, id: string, action: Action, options: LoadOptions = {}): Promise<Upload> {
  const upload = await ctx.options.store.get(id)
  if (!upload) throw new TusError('NOT_FOUND')
  if (options.authorize !== false && ctx.options.authorize) await ctx.options.authorize(snapshot(upload), ctx.req, action)
  const unfinishedFinal = upload.concat?.type === 'final' && upload.completedAt === undefined
  if (!unfinishedFinal && isExpired(ctx.options, upload)) await refuseExpired(ctx.server, upload, options.removeExpired !== false)
  return ctx.options.expireAfter === undefined ? upload : withExpiry(ctx.options, upload)
}

/**
 * Runs `fn` with the upload, holding its lock. The authorize hook is asked before the lock is requested:
 * asking for the lock makes the current holder stop reading its body, so a request that may not touch the
 * upload must never get that far (anyone with the URL could keep cutting the owner's upload off).
 */
export async function withUpload<T>(ctx: Context, id: string, action: Action, fn: (upload: Upload) => Promise<T>): Promise<T> {
  if (ctx.options.authorize) {
    const upload = await ctx.options.store.get(id)
    if (!upload) throw new TusError('NOT_FOUND')
    await ctx.options.authorize(snapshot(upload), ctx.req, action)
  }
  return withLock(ctx, id, async () => fn(await loadUpload(ctx, id, action, { authorize: false })))
}
