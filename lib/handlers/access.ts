/**
 * Getting at an existing upload: the lookup, the authorize hook, the lock (see locks/with-lock.ts), and the
 * admission of requests that receive bytes.
 */
import type { Context } from '../context.js'
import { TusError } from '../errors.js'
import { withLock } from '../locks/with-lock.js'
import type { Action } from '../options.js'
import { isExpired, refuseExpired, withExpiry } from '../lifecycle/expiry.js'
import { snapshot, type Upload } from '../upload.js'

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
 * (spec: expiration), and removed then if the caller holds the lock.
 */
export async function loadUpload(ctx: Context, id: string, action: Action, options: LoadOptions = {}): Promise<Upload> {
  const upload = await ctx.options.store.get(id)
  if (!upload) throw new TusError('NOT_FOUND')
  if (options.authorize !== false && ctx.options.authorize) await ctx.options.authorize(snapshot(upload), ctx.req, action)
  if (ctx.options.expireAfter !== undefined && (await isExpired(ctx.server, upload))) await refuseExpired(ctx.server, upload, options.removeExpired !== false)
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
