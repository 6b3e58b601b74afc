/**
 * Checksum verification of one request's body (spec: checksum, checksum-trailer). A header checksum is
 * hashed as the body streams through; a trailer checksum (known only after the body) is checked by reading
 * the stored bytes back. A chunk that fails, or that could not be verified because the body ended early, is
 * cut off again: the upload is exactly as it was before the request.
 */
import type { IncomingMessage } from 'node:http'
import type { StopReason } from '../body.js'
import type { Context } from '../context.js'
import { TusError } from '../errors.js'
import { storeCan } from '../stores/data-store.js'
import { createStreamingHash, parseChecksum, type Checksum, type StreamingHash } from '../protocol/checksum.js'

export interface ChecksumPlan {
  /** The Upload-Checksum header, already validated. */
  header: Checksum | undefined
  /** Hash of the body so far, when there is a header. */
  hash: StreamingHash | undefined
  /** The request announced an Upload-Checksum trailer (Trailer: Upload-Checksum). */
  trailerDeclared: boolean
  /** Write provisionally: the store drops the bytes if the process dies before they are verified. */
  provisional: boolean
}

const declaresTrailer = (req: IncomingMessage): boolean => /(^|,)\s*upload-checksum\s*(,|$)/i.test(String(req.headers.trailer ?? ''))

/** Reads (and validates, 400) the Upload-Checksum header before the body is read. */
export function planChecksum(ctx: Context): ChecksumPlan {
  const header = parseChecksum(ctx.req.headers['upload-checksum'])
  const trailerDeclared = canVerifyTrailer(ctx) && declaresTrailer(ctx.req)
  const verifying = header !== undefined || trailerDeclared
  return {
    header,
    hash: header && createStreamingHash(header.algorithm),
    trailerDeclared,
    provisional: verifying && typeof ctx.options.store.commit === 'function',
  }
}

const canVerifyTrailer = (ctx: Context): boolean => storeCan(ctx.options.store, 'read')

/**
 * Checks the chunk stored at [start, end) and resolves with the offset that stands: `end` when it is verified
 * (or nothing was asked), `start` when a body that ended early could not be verified. Throws 400/460 after
 * cutting the chunk off.
 */
export async function verifyChunk(ctx: Context, id: string, plan: ChecksumPlan, start: number, end: number, reason: StopReason): Promise<number> {
  const { store } = ctx.options
  const discard = () => store.truncate(id, start)
  const trailer = reason === 'end' && canVerifyTrailer(ctx) ? ctx.req.trailers?.['upload-checksum'] : undefined
  if (reason !== 'end' && (plan.header || plan.trailerDeclared)) {
    await discard()
    return start
  }
  let expected = plan.header
  let actual: Buffer | undefined
  try {
    if (plan.trailerDeclared && trailer === undefined && !expected) {
      throw new TusError('INVALID_CHECKSUM', 'The Upload-Checksum trailer the request announced did not come')
    }
    if (trailer !== undefined) {
      if (expected) throw new TusError('INVALID_CHECKSUM', 'Upload-Checksum was sent both as a header and as a trailer')
      expected = parseChecksum(trailer)!
      actual = await hashStored(ctx, id, expected, start, end)
    } else if (expected) {
      actual = plan.hash!.digest()
    }
  } catch (err) {
    await discard()
    throw err
  }
  if (expected && !actual!.equals(expected.digest)) {
    await discard()
    throw new TusError('CHECKSUM_MISMATCH')
  }
  if (plan.provisional) await store.commit!(id)
  return end
}

async function hashStored(ctx: Context, id: string, checksum: Checksum, start: number, end: number): Promise<Buffer> {
  const hash = createStreamingHash(checksum.algorithm)
  if (end > start) {
    for await (const chunk of await ctx.options.store.read!(id, { start, end: end - 1 })) hash.update(chunk as Buffer)
  }
  return hash.digest()
}
