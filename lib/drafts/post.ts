/**
 * Upload creation (draft-3 §4; draft-6 §4.2; draft-11 §4.2): a request carrying Upload-Complete creates an
 * upload resource, announces it in a 104 interim response before its body is read, and stores the body as
 * far as it arrives. Used by the collection URL (POST) and by routes upgraded with `resumable()`.
 */
import type { StopReason } from '../body.js'
import { bodyWasConsumed } from '../body.js'
import { emitLater, type Context } from '../context.js'
import { TusError } from '../errors.js'
import { applyCreateHook } from '../handlers/post.js'
import { advance } from '../lifecycle/index.js'
import { byteLimit, checkDeclaredSize, receive, type Body } from '../lifecycle/receive.js'
import { withLock } from '../locks/with-lock.js'
import { locationOf } from '../location.js'
import { parseContentLength } from '../protocol/headers.js'
import { parseMetadata, type Metadata } from '../protocol/metadata.js'
import { storeCan } from '../stores/data-store.js'
import { generateId } from '../stores/ids.js'
import type { NewUpload, Upload, UploadRoute } from '../upload.js'
import { sendUploadResumptionSupported } from './interim.js'
import { limitField } from './limits.js'
import { parseComplete, parseInteger } from './headers.js'
import { inconsistentLength } from './problems.js'
import type { DraftFeatures } from './version.js'

export interface Creation {
  /** Upload-Complete: the request's content is the whole representation. */
  complete: boolean
  /** The length, when the request tells it (draft-6 §4.1.3): Upload-Length, or Upload-Complete: ?1 with Content-Length. */
  length: number | undefined
  metadata: Metadata
  body: Body
}

/** No tus checksum for a draft body (the draft's digests are not served: README, Protocols). */
export const NO_CHECKSUM: Body['checksum'] = { header: undefined, trailerDeclared: false, hashes: new Map() }

/** Body media types that describe the transfer rather than the representation. */
const TRANSFER_TYPES = /^\s*application\/(partial-upload|offset\+octet-stream)\s*(;|$)/i

/**
 * Reads a creation request's fields; undefined when it carries no Upload-Complete (not a resumable request).
 * Throws 400 / 413 for what it may not be.
 */
export async function readCreation(ctx: Context, features: DraftFeatures): Promise<Creation | undefined> {
  const { req, options } = ctx
  const complete = parseComplete(req.headers['upload-complete'], features)
  if (complete === undefined) return undefined
  const contentLength = parseContentLength(req.headers['content-length'])
  if (bodyWasConsumed(req, contentLength)) throw new TusError('BODY_ALREADY_READ')
  // draft-3 §4: with Upload-Complete: ?1 and Content-Length the final size is known and MUST be recorded;
  // draft-6 §4.1.3: Upload-Length as well, and both indicators MUST match.
  const fromComplete = complete && contentLength !== undefined ? contentLength : undefined
  const declared = features.uploadLength ? parseInteger(req.headers['upload-length'], 'Upload-Length', features) : undefined
  if (declared !== undefined && fromComplete !== undefined && declared !== fromComplete) {
    throw inconsistentLength(features.inconsistentLength ?? 400, `Upload-Length ${declared} does not match Content-Length ${fromComplete} of a request completing the upload`)
  }
  const length = declared ?? fromComplete
  if (length !== undefined && length > (await options.maxSize(req))) throw new TusError('MAX_SIZE_EXCEEDED')
  return { complete, length, metadata: representationMetadata(ctx), body: { contentLength, checksum: NO_CHECKSUM } }
}

/**
 * Metadata of the new upload: Upload-Metadata when a client sends it (tus-js-client does, in its draft modes
 * too), plus the representation metadata of the request (draft-6 §4.2.1: Content-Type, Content-Disposition)
 * as `filetype` and `filename` when those keys are not set.
 */
function representationMetadata(ctx: Context): Metadata {
  const { req, options } = ctx
  const metadata: Metadata = parseMetadata(req.headers['upload-metadata'], options.maxMetadataSize)
  const type = req.headers['content-type']
  if (typeof type === 'string' && type.trim() !== '' && !TRANSFER_TYPES.test(type) && metadata.filetype === undefined) {
    metadata.filetype = type.trim()
  }
  const name = filenameOf(req.headers['content-disposition'])
  if (name !== undefined && metadata.filename === undefined) metadata.filename = name
  return metadata
}

/** The file name of a Content-Disposition (RFC 6266): filename* (UTF-8) first, then filename. */
function filenameOf(value: string | undefined): string | undefined {
  if (typeof value !== 'string') return undefined
  const star = /filename\*\s*=\s*UTF-8''([^;\s]+)/i.exec(value)
  if (star) {
    try {
      return decodeURIComponent(star[1])
    } catch {
      // fall through to filename
    }
  }
  const plain = /filename\s*=\s*(?:"((?:[^"\\]|\\.)*)"|([^;\s]+))/i.exec(value)
  if (!plain) return undefined
  return plain[1] !== undefined ? plain[1].replace(/\\(.)/g, '$1') : plain[2]
}

export interface Created {
  upload: Upload
  location: string
  reason: StopReason
  /** The request completed the upload (Upload-Complete: ?1 and all of its content arrived). */
  completed: boolean
}

/**
 * Creates the upload (onCreate may refuse it or choose its id), sends the 104 with its Location before the body
 * is read, stores the body, and marks the upload complete when the request said so and its content all arrived.
 * `route`: the upgraded route it is created on, kept in its record for whichever process completes it. Until
 * the 104 went out the client does not know the upload: a failure before it removes the upload again.
 */
export async function create(ctx: Context, creation: Creation, route?: UploadRoute): Promise<Created> {
  const { options } = ctx
  const features = ctx.draft!
  const draft: NewUpload = { id: generateId(), length: creation.length, metadata: creation.metadata, createdAt: new Date().toISOString() }
  if (route) draft.route = route
  const final = options.onCreate ? await applyCreateHook(ctx, draft) : draft
  if (final.length !== undefined) checkDeclaredSize({ ...final, offset: 0 }, creation.body.contentLength, final.length)
  const created = await options.store.create(final)
  const firstEvent = ctx.events.length
  emitLater(ctx, 'created', created)
  let announced = false
  try {
    return await withLock(ctx, created.id, async () => {
      const location = locationOf(ctx, created.id)
      // draft-3 §4 / draft-6 §4.2.2: the 104 carries Location (and, draft-7 §4.2.2, draft-11 §4.2.2: MUST carry
      // Upload-Limit where limits exist; draft-6: MAY), and goes out before any of the content is read.
      announced = sendUploadResumptionSupported(ctx, features.version, {
        Location: location,
        'Upload-Limit': await limitField(ctx, created),
      })
      const limit = await byteLimit(ctx, created)
      checkDeclaredSize(created, creation.body.contentLength, limit)
      const received = await receive(ctx, created, limit, creation.body)
      let upload = received.upload
      const completed = creation.complete && received.reason === 'end'
      if (completed) upload = await markComplete(ctx, upload)
      return { upload, location, reason: received.reason, completed }
    })
  } catch (err) {
    if (!announced) {
      ctx.events.splice(firstEvent)
      if (storeCan(options.store, 'termination')) await options.store.remove!(created.id).catch(() => {})
    }
    throw err
  }
}

/**
 * The request that said Upload-Complete: ?1 has all of its content in: the upload is complete (draft-6 §4.1.2).
 * A length not known yet is the offset now (draft-3 §4: the final size is recorded); a known one must be it
 * (draft-6 §4.1.3). Call it holding the upload's lock.
 */
export async function markComplete(ctx: Context, upload: Upload): Promise<Upload> {
  if (upload.length === undefined) {
    const stored = await ctx.options.store.update(upload.id, { length: upload.offset })
    return advance(ctx, { ...upload, ...stored, offset: upload.offset, length: upload.offset })
  }
  if (upload.length !== upload.offset) {
    throw inconsistentLength(ctx.draft?.inconsistentLength ?? 400, `The upload's length is ${upload.length} but the request completing it ends at ${upload.offset}`, { 'Upload-Offset': upload.offset })
  }
  return upload
}
