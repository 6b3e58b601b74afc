/**
 * Completion: once an upload's last byte counts, the store finishes it (makes it whole), then onComplete runs,
 * then completedAt is stored, then `completed` fires: exactly once, since it fires only after completedAt is
 * stored, and everything runs holding the upload's lock. A crash anywhere in between leaves an upload that
 * completes the next time a request looks at it. A partial upload is only a piece of a file (spec:
 * concatenation): it is finished and marked complete, but neither the hook nor the event runs for it.
 */
import { emitLater, type Context } from '../context.js'
import { TusError } from '../errors.js'
import { isComplete, snapshot, type Upload } from '../upload.js'

/** Throws when the request lost its upload's lock: from then on it changes nothing in the store. */
export function assertHeld(ctx: Context): void {
  if (ctx.lock?.signal?.aborted) throw new TusError('LOCK_LOST')
}

export async function completeIfDone(ctx: Context, upload: Upload): Promise<Upload> {
  if (upload.completedAt !== undefined || !isComplete(upload)) return upload
  const { store, onComplete } = ctx.options
  const partial = upload.concat?.type === 'partial'
  assertHeld(ctx)
  if (store.finish) await store.finish(upload.id)
  if (onComplete && !partial) await onComplete(snapshot(upload), ctx.req)
  assertHeld(ctx)
  const done = { ...upload, ...(await store.update(upload.id, { completedAt: new Date().toISOString() })) }
  if (!partial) emitLater(ctx, 'completed', done)
  return done
}
