/**
 * Where an upload's state changes. An upload is created (handlers/post.ts), receives bytes (receive.ts:
 * staged or not, committed or discarded), is finished and completed once its last byte counts
 * (complete.ts), and expires when idle (expiry.ts, sweep.ts). A final upload (spec: concatenation) is
 * assembled from its parts once they are all complete (finals.ts). Handlers call advance() whenever they
 * hold an upload's lock and may have moved it along.
 */
import type { Context } from '../context.js'
import type { Upload } from '../upload.js'
import { completeIfDone } from './complete.js'
import { settleFinal, settleLinked, type SettleOptions } from './finals.js'

/**
 * Brings an upload as far as its state allows; call it holding the upload's lock. A part that has just
 * completed settles the finals waiting for it after the response (a final's assembly never holds up the
 * request that finished its last part).
 */
export async function advance(ctx: Context, upload: Upload, options: SettleOptions = {}): Promise<Upload> {
  if (upload.concat?.type === 'final') return settleFinal(ctx, upload, options)
  const done = await completeIfDone(ctx, upload)
  if (done.concat?.type === 'partial' && upload.completedAt === undefined && done.completedAt !== undefined) {
    ctx.after.push((detached) => settleLinked(detached, done.id))
  }
  return done
}
