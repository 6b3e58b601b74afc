/**
 * Receiving a body into an upload, for PATCH and for POST with creation-with-upload: limits, the store write,
 * rollback of a refused body, progress, and completion.
 */
import createDebug from 'debug'
import { BodyReader, type StopReason } from '../body.js'
import { emitLater, flushEvents, reply, replyError, type Context, type Headers } from '../context.js'
import { TusError } from '../errors.js'
import { safeEmit } from '../events.js'
import { snapshot, type Upload } from '../upload.js'
import { withExpiry } from '../expiration.js'
import { completeIfDone } from './complete.js'
import { verifyChunk, type ChecksumPlan } from './verify.js'

const debug = createDebug('tus-middleware:patch')

export interface Received {
  upload: Upload
  reason: StopReason
}

/** The most bytes this request may add: up to the length, or the max size while the length is deferred. */
export async function byteLimit(ctx: Context, upload: Upload): Promise<number> {
  if (upload.length !== undefined) return upload.length - upload.offset
  return Math.max(0, (await ctx.options.maxSize(ctx.req)) - upload.offset)
}

/** Refuses up front a body whose declared size already runs past the limit: nothing is stored. */
export function checkDeclaredSize(upload: Upload, contentLength: number | undefined, limit: number): void {
  if (contentLength !== undefined && contentLength > limit) {
    throw new TusError(upload.length !== undefined ? 'BODY_EXCEEDS_LENGTH' : 'MAX_SIZE_EXCEEDED')
  }
}

/**
 * Reads the body into the store, verifying its checksum if one was given. Called holding the upload's lock.
 * `storeLength`: the upload's length was declared by this request and is stored once the body is accepted
 * (spec: creation-defer-length), so a refused request leaves it undeclared.
 */
export async function receive(ctx: Context, upload: Upload, limit: number, plan: ChecksumPlan, storeLength = false): Promise<Received> {
  const { writing } = ctx.server
  writing.add(upload.id)
  let stored: { offset: number; reason: StopReason }
  try {
    stored = await storeBody(ctx, upload, limit, plan)
  } finally {
    writing.delete(upload.id)
  }
  const { offset, reason } = stored
  ctx.server.metrics?.bytesKept(offset - upload.offset)
  let current: Upload = { ...upload, offset }
  if (storeLength) current = { ...(await ctx.options.store.update(upload.id, { length: upload.length })), offset }
  if (offset !== upload.offset) {
    current = withExpiry(ctx.options, { ...current, updatedAt: new Date().toISOString() })
    emitLater(ctx, 'progress', current)
  }
  current = await completeIfDone(ctx, current)
  return { upload: current, reason }
}

/** Writes the body, then keeps it only if it is accepted: within the limit, and verified when checksummed. */
async function storeBody(ctx: Context, upload: Upload, limit: number, plan: ChecksumPlan): Promise<{ offset: number; reason: StopReason }> {
  const { store, progressInterval, bodyIdleTimeout } = ctx.options
  const start = upload.offset
  // Live progress only for bytes that cannot be taken back: not for a creation (refused, it leaves nothing
  // and no `created` event), nor for a body whose checksum is still to be checked.
  const live = ctx.method !== 'POST' && plan.hash === undefined && !plan.trailerDeclared
  const reader = new BodyReader(ctx.req, {
    limit,
    idleTimeout: bodyIdleTimeout,
    progressInterval,
    onChunk: plan.hash && ((chunk) => plan.hash!.update(chunk)),
    onProgress: live ? (bytes) => safeEmit(ctx.server.emitter, 'progress', snapshot({ ...upload, offset: start + bytes })) : undefined,
  })
  ctx.reader = reader
  // A newer request for this upload already asked for the lock: let it have it at once, with the offset as is.
  if (ctx.releaseRequested) reader.stop('released')
  let offset: number
  try {
    offset = await store.write(upload.id, start, reader, plan.provisional ? { provisional: true } : undefined)
  } catch (err) {
    reader.stop('released')
    // Unverified bytes never stay (spec: checksum).
    if (plan.provisional) await store.truncate(upload.id, start).catch(() => {})
    throw err
  } finally {
    ctx.reader = undefined
  }
  const reason = reader.stopReason ?? 'end'
  debug('%s: %d bytes at %d (%s)', upload.id, offset - start, start, reason)
  if (reason === 'overflow') {
    // A refused request leaves the upload as it was.
    await store.truncate(upload.id, start)
    throw new TusError(upload.length !== undefined ? 'BODY_EXCEEDS_LENGTH' : 'MAX_SIZE_EXCEEDED')
  }
  return { offset: await verifyChunk(ctx, upload.id, plan, start, offset, reason), reason }
}

/**
 * Answers a request whose body was read. A body that ended early keeps its bytes; the connection is closed
 * because unread bytes may still be on the way (a stalled one gets 408, one asked to let go its usual status).
 */
export function replyAfterBody(ctx: Context, reason: StopReason, status: number, headers: Headers): void {
  if (reason === 'aborted') {
    // Nobody is listening: the bytes are stored; release the events and the socket.
    flushEvents(ctx)
    ctx.res.destroy()
    return
  }
  if (reason === 'end') return reply(ctx, status, headers)
  const closing = { ...headers, Connection: 'close' }
  if (reason === 'timeout') return replyError(ctx, new TusError('REQUEST_TIMEOUT'), closing)
  reply(ctx, status, closing)
}
