/**
 * Upload-Limit values (draft-6 §4.1.4, draft-7 §4.1.4, draft-11 §4.1.4) from the middleware's options: max-size
 * from `maxSize`, max-/min-append-size from `resumableDrafts`, max-age from `expireAfter` (the seconds an
 * upload has left, or the whole lifetime when no upload is named). Limits never change over an upload's life.
 */
import type { Context } from '../context.js'
import { expiryOf } from '../lifecycle/expiry.js'
import type { Upload } from '../upload.js'
import { formatLimits, type Limits } from './headers.js'

export async function limitsOf(ctx: Context, upload?: Upload): Promise<Limits> {
  const { options } = ctx
  const limits: Limits = {}
  const max = await options.maxSize(ctx.req)
  if (max < Number.MAX_SAFE_INTEGER) limits['max-size'] = max
  if (options.drafts?.maxAppendSize !== undefined) limits['max-append-size'] = options.drafts.maxAppendSize
  if (options.drafts?.minAppendSize !== undefined) limits['min-append-size'] = options.drafts.minAppendSize
  if (options.expireAfter !== undefined) {
    // A finished upload that does not expire has no max-age.
    const expires = upload ? expiryOf(options, upload) : Date.now() + options.expireAfter
    if (expires !== undefined) limits['max-age'] = Math.max(0, Math.floor((expires - Date.now()) / 1000))
  }
  return limits
}

/** The Upload-Limit field for a response to this request, or undefined when its version has none. */
export async function limitField(ctx: Context, upload?: Upload): Promise<string | undefined> {
  if (!ctx.draft?.limits) return undefined
  return formatLimits(await limitsOf(ctx, upload))
}
