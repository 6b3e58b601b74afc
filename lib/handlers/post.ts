/**
 * POST: create an upload (spec: creation; creation-defer-length; creation-with-upload).
 */
import { bodyWasConsumed } from '../body.js'
import { emitLater, reply, type Context } from '../context.js'
import { TusError } from '../errors.js'
import {
  isOffsetOctetStream,
  parseContentLength,
  parseDeferLength,
  parseUploadLength,
} from '../protocol/headers.js'
import { assertMetadata, parseMetadata } from '../protocol/metadata.js'
import { assertId, generateId } from '../stores/ids.js'
import { snapshot, type NewUpload, type Upload } from '../upload.js'
import { withLock } from './access.js'
import { completeIfDone } from './complete.js'
import { byteLimit, checkDeclaredSize, receive, replyAfterBody } from './receive.js'

export async function handlePost(ctx: Context): Promise<void> {
  const { req, options } = ctx
  const length = parseUploadLength(req.headers['upload-length'])
  const deferred = parseDeferLength(req.headers['upload-defer-length'])
  if (length !== undefined && deferred) throw new TusError('INVALID_DEFER_LENGTH')
  if (length === undefined && !deferred) throw new TusError('MISSING_LENGTH')
  if (length !== undefined && length > (await options.maxSize(req))) throw new TusError('MAX_SIZE_EXCEEDED')
  const metadata = parseMetadata(req.headers['upload-metadata'], options.maxMetadataSize)

  // spec: creation-with-upload: a body is upload data only with the tus media type.
  const contentLength = parseContentLength(req.headers['content-length'])
  const hasBody = (contentLength ?? 0) > 0 || (contentLength === undefined && req.headers['transfer-encoding'] !== undefined)
  const withUpload = isOffsetOctetStream(req.headers['content-type'])
  if (hasBody && !withUpload) throw new TusError('INVALID_CONTENT_TYPE')
  if (withUpload && bodyWasConsumed(req, contentLength)) throw new TusError('BODY_ALREADY_READ')

  let draft: NewUpload = { id: generateId(), length, metadata, createdAt: new Date().toISOString() }
  if (options.onCreate) draft = await applyCreateHook(ctx, draft)
  if (withUpload && length !== undefined) checkDeclaredSize({ ...draft, offset: 0 }, contentLength, length)

  let upload = await options.store.create(draft)
  emitLater(ctx, 'created', snapshot(upload))
  const location = locationOf(ctx, upload.id)

  if (!withUpload) {
    upload = await completeIfDone(ctx, upload) // a zero-length upload is complete at once
    return reply(ctx, 201, { Location: location, ...expiresHeader(upload) })
  }
  await withLock(ctx, upload.id, async () => {
    const limit = await byteLimit(ctx, upload)
    checkDeclaredSize(upload, contentLength, limit)
    const received = await receive(ctx, upload, limit)
    replyAfterBody(ctx, received.reason, 201, {
      Location: location,
      'Upload-Offset': received.upload.offset,
      ...expiresHeader(received.upload),
    })
  })
}

async function applyCreateHook(ctx: Context, draft: NewUpload): Promise<NewUpload> {
  const result = await ctx.options.onCreate!(snapshot({ ...draft, offset: 0 }), ctx.req)
  if (!result) return draft
  const next = { ...draft }
  if (result.id !== undefined) {
    assertId(result.id)
    next.id = result.id
  }
  if (result.metadata !== undefined) {
    assertMetadata(result.metadata)
    next.metadata = { ...result.metadata }
  }
  return next
}

function expiresHeader(upload: Upload): { 'Upload-Expires'?: string } {
  return upload.expiresAt && !upload.completedAt ? { 'Upload-Expires': new Date(upload.expiresAt).toUTCString() } : {}
}

/** The upload's URL: absolute from the Host header unless relativeLocation is set (spec: creation, POST). */
export function locationOf(ctx: Context, id: string): string {
  const path = `${ctx.base}/${encodeURIComponent(id)}`
  if (ctx.options.relativeLocation) return path
  const host = ctx.req.headers.host
  if (!host || !/^[A-Za-z0-9.\-:[\]]+$/.test(host)) return path
  const proto = (ctx.req.socket as { encrypted?: boolean }).encrypted ? 'https' : 'http'
  return `${proto}://${host}${path}`
}
