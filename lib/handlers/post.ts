/**
 * POST: create an upload (spec: creation; creation-defer-length; creation-with-upload; concatenation).
 */
import { bodyWasConsumed, declaresBody } from '../body.js'
import { emitLater, reply, type Context } from '../context.js'
import { TusError } from '../errors.js'
import { parseConcat } from '../protocol/concat.js'
import {
  isOffsetOctetStream,
  parseContentLength,
  parseDeferLength,
  parseUploadLength,
} from '../protocol/headers.js'
import { assertMetadata, parseMetadata } from '../protocol/metadata.js'
import { storeCan } from '../stores/data-store.js'
import { assertId, generateId } from '../stores/ids.js'
import { isComplete, snapshot, type NewUpload, type Upload } from '../upload.js'
import { locationOf } from '../location.js'
import { planChecksum } from '../lifecycle/checksum-plan.js'
import { expiresHeader } from '../lifecycle/expiry.js'
import { resolveParts, totalLength } from '../lifecycle/finals.js'
import { advance } from '../lifecycle/index.js'
import { byteLimit, checkDeclaredSize, receive, replyAfterBody, type Body } from '../lifecycle/receive.js'
import { withLock } from '../locks/with-lock.js'
import { admitUpload } from './access.js'

export async function handlePost(ctx: Context): Promise<void> {
  const { req, options } = ctx
  // Without the capability the header is not ours to read (the extension is not advertised).
  const concat = storeCan(options.store, 'concatenation') ? parseConcat(req.headers['upload-concat']) : undefined
  if (concat?.type === 'final') return createFinal(ctx, concat.urls)

  const length = parseUploadLength(req.headers['upload-length'])
  const deferred = parseDeferLength(req.headers['upload-defer-length'])
  if (length !== undefined && deferred) throw new TusError('INVALID_DEFER_LENGTH')
  if (length === undefined && !deferred) throw new TusError('MISSING_LENGTH')
  if (length !== undefined && length > (await options.maxSize(req))) throw new TusError('MAX_SIZE_EXCEEDED')
  const metadata = parseMetadata(req.headers['upload-metadata'], options.maxMetadataSize)

  // spec: creation-with-upload: a body is upload data only with the tus media type.
  const contentLength = parseContentLength(req.headers['content-length'])
  const withUpload = isOffsetOctetStream(req.headers['content-type'])
  if (declaresBody(req, contentLength) && !withUpload) throw new TusError('INVALID_CONTENT_TYPE')
  if (withUpload && bodyWasConsumed(req, contentLength)) throw new TusError('BODY_ALREADY_READ')
  const body: Body = { contentLength, checksum: planChecksum(req, declaresBody(req, contentLength)) }

  const request: Creation = { length, metadata, withUpload, partial: concat !== undefined, body }
  // A creation carrying bytes counts against maxConcurrentUploads before anything is created.
  return withUpload ? admitUpload(ctx, () => create(ctx, request)) : create(ctx, request)
}

interface Creation {
  length: number | undefined
  metadata: NewUpload['metadata']
  withUpload: boolean
  /** spec: concatenation: Upload-Concat: partial. */
  partial: boolean
  body: Body
}

async function create(ctx: Context, creation: Creation): Promise<void> {
  const { length, metadata, withUpload, partial, body } = creation
  const { contentLength } = body
  const { options } = ctx
  const draft: NewUpload = { id: generateId(), length, metadata, createdAt: new Date().toISOString() }
  if (partial) draft.concat = { type: 'partial' }
  await createRecord(ctx, draft, async (upload) => {
    const location = locationOf(ctx, upload.id)
    if (!withUpload) {
      // A zero-length upload is complete at once.
      const done = isComplete(upload) ? await withLock(ctx, upload.id, () => advance(ctx, upload)) : upload
      return reply(ctx, 201, { Location: location, ...expiresHeader(options, done) })
    }
    await withLock(ctx, upload.id, async () => {
      const limit = await byteLimit(ctx, upload)
      checkDeclaredSize(upload, contentLength, limit)
      const received = await receive(ctx, upload, limit, body)
      replyAfterBody(ctx, received.reason, 201, {
        Location: location,
        'Upload-Offset': received.upload.offset,
        ...expiresHeader(options, received.upload),
      })
    })
  }, async (upload) => {
    if (withUpload && upload.length !== undefined) checkDeclaredSize({ ...upload, offset: 0 }, contentLength, upload.length)
  })
}

/** spec: concatenation: a final upload, made of partial uploads, assembled as soon as they are all complete. */
async function createFinal(ctx: Context, urls: string[]): Promise<void> {
  const { req, options } = ctx
  if (req.headers['upload-length'] !== undefined || req.headers['upload-defer-length'] !== undefined) {
    throw new TusError('CONCAT_WITH_LENGTH')
  }
  if (declaresBody(req, parseContentLength(req.headers['content-length']))) throw new TusError('CONCAT_WITH_BODY')
  const metadata = parseMetadata(req.headers['upload-metadata'], options.maxMetadataSize)
  const parts = await resolveParts(ctx, urls)
  const length = totalLength(parts)
  if (length !== undefined && length > (await options.maxSize(req))) throw new TusError('MAX_SIZE_EXCEEDED')
  const header = String(req.headers['upload-concat']).trim()
  const draft: NewUpload = { id: generateId(), length, metadata, createdAt: new Date().toISOString() }
  draft.concat = { type: 'final', parts: parts.map((p) => p.id), header }
  await createRecord(ctx, draft, async (created) => {
    const upload = await withLock(ctx, created.id, () => advance(ctx, created))
    reply(ctx, 201, { Location: locationOf(ctx, upload.id), ...expiresHeader(options, upload) })
  }, async (final) => {
    // Before the final exists: a part that completes from now on finds it, in any process.
    for (const part of parts) await options.store.link!(part.id, final.id)
  })
}

/**
 * Runs onCreate, then `prepare` with the upload as it will be created, creates it, and hands it to `then`.
 * If `then` fails, the creation is undone: the
 * client never learnt the upload's URL (a checksum mismatch, a body past the length, onComplete refusing),
 * so nothing is left behind and no `created` event goes out.
 */
async function createRecord(
  ctx: Context,
  draft: NewUpload,
  then: (upload: Upload) => Promise<void>,
  prepare?: (draft: NewUpload) => Promise<void>,
): Promise<void> {
  const { store } = ctx.options
  const final = ctx.options.onCreate ? await applyCreateHook(ctx, draft) : draft
  await prepare?.(final)
  const upload = await store.create(final)
  const firstEvent = ctx.events.length
  emitLater(ctx, 'created', upload)
  try {
    await then(upload)
  } catch (err) {
    ctx.events.splice(firstEvent)
    if (storeCan(store, 'termination')) await store.remove!(upload.id).catch(() => {})
    throw err
  }
}


export async function applyCreateHook(ctx: Context, draft: NewUpload): Promise<NewUpload> {
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

