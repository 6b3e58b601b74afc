/**
 * Upload append (draft-3 §5 "Upload Append"; draft-5 §6; draft-6 §4.4; draft-11 §4.4): PATCH to the upload
 * resource with Upload-Offset and Upload-Complete. The append that completes an upload created by an upgraded
 * route is answered by that route.
 */
import type { StopReason } from '../body.js'
import { bodyWasConsumed } from '../body.js'
import { reply, type Context, type Headers } from '../context.js'
import { TusError } from '../errors.js'
import { admitUpload, withUpload } from '../handlers/access.js'
import { byteLimit, checkDeclaredSize, receive, replyAfterBody } from '../lifecycle/receive.js'
import { parseContentLength } from '../protocol/headers.js'
import type { Upload } from '../upload.js'
import { booleanField, parseComplete, parseInteger } from './headers.js'
import { completeOf } from './head.js'
import { reportProgress } from './interim.js'
import { markComplete, NO_CHECKSUM } from './post.js'
import { completedUpload, inconsistentLength, mismatchingOffset } from './problems.js'
import { answerByRoute } from './resumable.js'
import type { DraftFeatures } from './version.js'

const PARTIAL_UPLOAD = /^\s*application\/partial-upload\s*(;|$)/i

function checkMediaType(features: DraftFeatures, type: string | undefined): void {
  // draft-5 §6, draft-6 §4.4.1: the PATCH MUST use application/partial-upload. Interop 5 also takes a body
  // without Content-Type, as tus-js-client's 'ietf-draft-03' protocol sends it; 3 and 4 define no media type.
  if (features.partialUpload === 'none') return
  if (type === undefined && features.partialUpload === 'lenient') return
  if (type === undefined || !PARTIAL_UPLOAD.test(type)) {
    throw new TusError('INVALID_DRAFT_MEDIA_TYPE', 'An append must have Content-Type: application/partial-upload', 415)
  }
}

interface Appended {
  upload: Upload
  reason: StopReason
  /** This request completed the upload. */
  completed: boolean
}

export async function draftAppend(ctx: Context, id: string): Promise<void> {
  const { req, options } = ctx
  const features = ctx.draft!
  checkMediaType(features, req.headers['content-type'])
  // draft-3 §5, draft-6 §4.4.1: Upload-Offset MUST be set.
  const offset = parseInteger(req.headers['upload-offset'], 'Upload-Offset', features)
  if (offset === undefined) throw new TusError('MISSING_OFFSET')
  // draft-6 §4.4.1: the request MUST include Upload-Complete. Before (draft-3 §5, 4, 5) only a request that is
  // not the end of the upload had to say ?0: without it, the content ends the upload.
  let complete = parseComplete(req.headers['upload-complete'], features)
  if (complete === undefined) {
    if (features.appendNeedsComplete) throw new TusError('MISSING_UPLOAD_COMPLETE', 'An append must carry Upload-Complete', 400)
    complete = true
  }
  const contentLength = parseContentLength(req.headers['content-length'])
  if (bodyWasConsumed(req, contentLength)) throw new TusError('BODY_ALREADY_READ')
  const declared = features.uploadLength ? parseInteger(req.headers['upload-length'], 'Upload-Length', features) : undefined
  const drafts = options.drafts!
  // Upload-Limit max-append-size / min-append-size (draft-6 §4.1.4): a server may refuse appends outside them;
  // one completing the upload is exempt from the minimum.
  if (drafts.maxAppendSize !== undefined && contentLength !== undefined && contentLength > drafts.maxAppendSize) {
    throw new TusError('APPEND_TOO_LARGE', `An append may carry at most ${drafts.maxAppendSize} bytes (Upload-Limit max-append-size)`, 413)
  }
  if (drafts.minAppendSize !== undefined && !complete && contentLength !== undefined && contentLength < drafts.minAppendSize) {
    throw new TusError('APPEND_TOO_SMALL', `An append that does not complete the upload must carry at least ${drafts.minAppendSize} bytes (Upload-Limit min-append-size)`, 400)
  }
  const body = { contentLength, checksum: NO_CHECKSUM }
  const completing = complete

  const result = await admitUpload(ctx, () => withUpload(ctx, id, 'patch', async (found): Promise<Appended> => {
    let upload = found
    if (upload.concat?.type === 'final') throw new TusError('CONCAT_FINAL_PATCH')
    if (completeOf(upload)) {
      // An upload whose declared length was reached is complete already; the client's closing empty
      // `Upload-Complete: ?1` append at that offset is answered as the completion it asks for.
      if (completing && offset === upload.offset && contentLength === 0) return { upload, reason: 'end', completed: true }
      // draft-11 §4.4.2: a non-empty append to a completed upload is an inconsistent length.
      if (features.completedAppendIsLength && contentLength !== 0) {
        throw inconsistentLength(400, 'The upload is already complete', { 'Upload-Complete': '?1', 'Upload-Offset': upload.offset })
      }
      // draft-5 §6, draft-6 §4.4.2: MUST NOT modify a completed upload and MUST reject the request.
      throw completedUpload(400, { 'Upload-Complete': '?1', 'Upload-Offset': upload.offset })
    }
    // draft-3 §5 / draft-6 §4.4.2: a mismatching offset MUST get 409 with the correct Upload-Offset.
    if (offset !== upload.offset) throw mismatchingOffset(upload.offset, offset, features.version >= 6 ? { 'Upload-Complete': '?0' } : {})
    // draft-3 §5 / draft-6 §4.1.3: the length is offset + Content-Length of the request completing the upload,
    // and Upload-Length; all indicators MUST match, across requests too (409 in interop 3-5, which define no
    // problem type for it, as the mismatch of a recorded size).
    const fromComplete = completing && contentLength !== undefined ? upload.offset + contentLength : undefined
    if (declared !== undefined && fromComplete !== undefined && declared !== fromComplete) {
      throw inconsistentLength(features.inconsistentLength ?? 400, `Upload-Length ${declared} does not match the end of this request's content, ${fromComplete}`)
    }
    const length = declared ?? fromComplete
    if (length !== undefined) {
      if (upload.length !== undefined && upload.length !== length) {
        throw inconsistentLength(features.inconsistentLength ?? 400, `The upload's length is ${upload.length}, not ${length}`)
      }
      if (length < upload.offset) throw inconsistentLength(features.inconsistentLength ?? 400, `A length of ${length} is below the upload's offset ${upload.offset}`)
      if (length > (await options.maxSize(req))) throw new TusError('MAX_SIZE_EXCEEDED')
    }
    // A length told now is stored once the body is accepted (as tus's deferred length).
    const declaring = length !== undefined && upload.length === undefined
    if (declaring) upload = { ...upload, length }
    // draft-11 §4.4.2: the offset MUST NOT pass a known length; a body without Content-Length that runs past it
    // is refused whole (receive.ts), leaving the upload as it was.
    let limit = await byteLimit(ctx, upload)
    if (drafts.maxAppendSize !== undefined) limit = Math.min(limit, drafts.maxAppendSize)
    checkDeclaredSize(upload, contentLength, limit)
    // draft-7 §4.4.2, draft-11 §4.4.2: 104 progress responses while the body streams (a body without
    // Content-Length is staged: its offset does not move before the end, so nothing is polled for it).
    const stopProgress = contentLength === undefined ? () => {} : reportProgress(ctx, id, upload.offset)
    let received
    try {
      received = await receive(ctx, upload, limit, body, declaring)
    } finally {
      stopProgress()
    }
    const completed = completing && received.reason === 'end'
    return { upload: completed ? await markComplete(ctx, received.upload) : received.upload, reason: received.reason, completed }
  }))

  const { upload, reason, completed } = result
  const headers: Headers = { 'Upload-Offset': upload.offset, 'Upload-Complete': booleanField(completed) }
  if (reason !== 'end') return replyAfterBody(ctx, reason, 204, headers)
  if (completed) {
    // draft-6 §4.4.2 / draft-11 §4.4.2: the response to the completing append is the targeted resource's,
    // and MUST carry Upload-Complete: ?1.
    if (answerByRoute(ctx, upload)) return
    // The collection's own answer: 201 (RECOMMENDED, draft-3 §5).
    return reply(ctx, 201, headers)
  }
  // draft-3 §5: 201 with Upload-Complete: ?0 (interop 3-5); draft-6 §4.4.2: a 2xx with Upload-Complete: ?0.
  // Upload-Offset is kept from draft-6 on too (not required there, but clients such as tus-js-client read it).
  reply(ctx, features.version <= 5 ? 201 : 204, headers)
}
