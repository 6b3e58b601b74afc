/**
 * Completion: runs once per upload, when its last byte is stored (or, after a crash between the last byte and
 * the record, the next time the upload is looked at). `completed` fires only after onComplete succeeded and
 * completedAt is stored, so it fires exactly once. A partial upload is only a piece of a file (spec:
 * concatenation): it is marked complete, but neither the hook nor the event runs for it.
 */
import { emitLater, type Context } from '../context.js'
import { isComplete, snapshot, type Upload } from '../upload.js'
import { settleWaiting } from './concat.js'

export async function completeIfDone(ctx: Context, upload: Upload): Promise<Upload> {
  if (upload.completedAt !== undefined || !isComplete(upload)) return upload
  const partial = upload.concat?.type === 'partial'
  if (ctx.options.onComplete && !partial) await ctx.options.onComplete(snapshot(upload), ctx.req)
  const done = { ...upload, ...(await ctx.options.store.update(upload.id, { completedAt: new Date().toISOString() })) }
  if (!partial) emitLater(ctx, 'completed', done)
  // A finished part may be the last one some final upload waits for (spec: concatenation-unfinished).
  else await settleWaiting(ctx, done.id)
  return done
}
