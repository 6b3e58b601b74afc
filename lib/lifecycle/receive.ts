/**
 * Receiving a body into an upload, for PATCH and for POST with creation-with-upload: the one staged-write
 * path. Bytes the request may still refuse are staged — a checksummed body (not verified yet), a body of
 * unknown size (it may run past the length) — and then committed or discarded as a whole; any other body
 * counts as it is stored, so a client that vanishes keeps every byte that reached the store.
 * A body running past Upload-Length (or maxSize) is refused whole with 413, on every store: none of its bytes
 * count, the upload is left as it was.
 */
import createDebug from 'debug'
import { BodyReader, type StopReason } from '../body.js'
import { emitLater, flushEvents, reply, replyError, type Context, type Headers } from '../context.js'
import { TusError } from '../errors.js'
import { safeEmit } from '../events.js'
import { snapshot, type Upload } from '../upload.js'
import { assertHeld } from './complete.js'
import { checkBody, hasherOf, verifying, type ChecksumPlan } from './checksum-plan.js'
import { withExpiry } from './expiry.js'
import { advance } from './index.js'

const debug = createDebug('tus-middleware:patch')

export interface Received {
  upload: Upload
  reason: StopReason
}

export interface Body {
  /** Content-Length, when the request declared one. */
  contentLength: number | undefined
  checksum: ChecksumPlan
}

/** The most bytes this request may add: up to the length, or the max size while the length is deferred. */
export async function byteLimit(ctx: Context, upload: Upload): Promise<number> {
  if (upload.length !== undefined) return upload.length - upload.offset
  return Math.max(0, (await ctx.options.maxSize(ctx.req)) - upload.offset)
}

const overLimit = (upload: Upload): TusError => new TusError(upload.length !== undefined ? 'BODY_EXCEEDS_LENGTH' : 'MAX_SIZE_EXCEEDED')

/** Refuses up front a body whose declared size already runs past the limit: nothing is stored. */
export function checkDeclaredSize(upload: Upload, contentLength: number | undefined, limit: number): void {
  if (contentLength !== undefined && contentLength > limit) throw overLimit(upload)
}

/**
 * Reads the body into the store and moves the upload along (completion). Called holding the upload's lock.
 * `storeLength`: the upload's length was declared by this request and is stored once the body is accepted
 * (spec: creation-defer-length), so a refused request leaves it undeclared.
 */
export async function receive(ctx: Context, upload: Upload, limit: number, body: Body, storeLength = false): Promise<Received> {
  const { offset, reason } = await storeBody(ctx, upload, limit, body)
  assertHeld(ctx)
  ctx.server.metrics?.bytesKept(offset - upload.offset)
  let current: Upload = { ...upload, offset }
  if (storeLength) current = { ...(await ctx.options.store.update(upload.id, { length: upload.length })), offset }
  if (offset !== upload.offset) {
    current = withExpiry(ctx.options, { ...current, updatedAt: new Date().toISOString() })
    emitLater(ctx, 'progress', current)
  }
  return { upload: await advance(ctx, current), reason }
}

/** Writes the body; resolves with the offset that stands afterwards and why the body ended. */
async function storeBody(ctx: Context, upload: Upload, limit: number, body: Body): Promise<{ offset: number; reason: StopReason }> {
  const { store, progressInterval, bodyIdleTimeout } = ctx.options
  const { id } = upload
  const start = upload.offset
  // Without a Content-Length the body may run past the limit, and is then refused whole. Over HTTP/2 a trailer
  // (a tus checksum) may follow any body, announced or not, so every tus body waits for its end; a draft
  // request's trailers are not read, so its bytes count as they are stored, as over HTTP/1.1.
  const staged = verifying(body.checksum) || body.contentLength === undefined || (ctx.req.httpVersionMajor >= 2 && !ctx.draft)
  // Live progress only for bytes that cannot be taken back: not for a creation (refused, it leaves nothing
  // and no `created` event), nor for staged bytes.
  const live = ctx.method !== 'POST' && !staged
  const reader = new BodyReader(ctx.req, {
    limit,
    idleTimeout: bodyIdleTimeout,
    progressInterval,
    onChunk: hasherOf(body.checksum),
    onProgress: live ? (bytes) => safeEmit(ctx.server.emitter, 'progress', snapshot({ ...upload, offset: start + bytes })) : undefined,
  })
  ctx.reader = reader
  // A newer request for this upload already asked for the lock: let it have it at once, with the offset as is.
  if (ctx.releaseRequested) reader.stop('released')
  const lock = ctx.lock
  if (lock?.signal?.aborted) reader.stop('lost')
  let end: number
  try {
    end = await store.write(id, start, reader, { staged, signal: lock?.signal, fence: lock?.fence })
  } catch (err) {
    reader.stop('released')
    // A request that lost its lock touches nothing more: the upload may be another request's by now.
    assertHeld(ctx)
    if (staged) await store.discard(id, start).catch(() => {})
    throw err
  } finally {
    ctx.reader = undefined
  }
  const reason = reader.stopReason ?? 'end'
  debug('%s: %d bytes at %d (%s, %s)', id, end - start, start, reason, staged ? 'staged' : 'direct')
  assertHeld(ctx)
  if (reason === 'overflow') {
    if (staged) await store.discard(id, start)
    throw overLimit(upload)
  }
  if (!staged) return { offset: end, reason }
  let verdict
  try {
    verdict = checkBody(body.checksum, ctx.req, reason)
  } catch (err) {
    await store.discard(id, start)
    throw err
  }
  if (verdict === 'unverifiable') {
    await store.discard(id, start)
    return { offset: start, reason }
  }
  return { offset: await store.commit(id, start), reason }
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
