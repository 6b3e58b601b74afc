/** PATCH: append bytes at the current offset (spec: core, PATCH; creation-defer-length). */
import { bodyWasConsumed, declaresBody } from '../body.js'
import type { Context } from '../context.js'
import { TusError } from '../errors.js'
import { isOffsetOctetStream, parseContentLength, parseUploadLength, parseUploadOffset } from '../protocol/headers.js'
import type { Upload } from '../upload.js'
import { planChecksum } from '../lifecycle/checksum-plan.js'
import { expiresHeader } from '../lifecycle/expiry.js'
import { byteLimit, checkDeclaredSize, receive, replyAfterBody } from '../lifecycle/receive.js'
import { admitUpload, withUpload } from './access.js'

export async function handlePatch(ctx: Context, id: string): Promise<void> {
  const { req } = ctx
  if (!isOffsetOctetStream(req.headers['content-type'])) throw new TusError('INVALID_CONTENT_TYPE')
  const offset = parseUploadOffset(req.headers['upload-offset'])
  const declaredLength = parseUploadLength(req.headers['upload-length'])
  const contentLength = parseContentLength(req.headers['content-length'])
  if (bodyWasConsumed(req, contentLength)) throw new TusError('BODY_ALREADY_READ')
  // A bad checksum header is refused before any byte is read.
  const body = { contentLength, checksum: planChecksum(req, declaresBody(req, contentLength)) }

  await admitUpload(ctx, () => withUpload(ctx, id, 'patch', async (found) => {
    let upload = found
    // spec: concatenation: a final upload is made of its parts, never patched.
    if (upload.concat?.type === 'final') throw new TusError('CONCAT_FINAL_PATCH')
    if (offset !== upload.offset) throw new TusError('OFFSET_MISMATCH')
    // A length declared now is checked here but stored only once the body is accepted: a refused request
    // leaves the upload as it was, length included.
    const declaring = declaredLength !== undefined && upload.length === undefined
    if (declaredLength !== undefined) upload = await declareLength(ctx, upload, declaredLength)
    const limit = await byteLimit(ctx, upload)
    checkDeclaredSize(upload, contentLength, limit)
    const { upload: after, reason } = await receive(ctx, upload, limit, body, declaring)
    replyAfterBody(ctx, reason, 204, { 'Upload-Offset': after.offset, ...expiresHeader(ctx.options, after) })
  }))
}

/** spec: creation, Upload-Defer-Length: the length is set once, by a PATCH, and never changed. Not stored here. */
async function declareLength(ctx: Context, upload: Upload, length: number): Promise<Upload> {
  if (upload.length !== undefined) {
    if (upload.length !== length) throw new TusError('LENGTH_ALREADY_SET')
    return upload
  }
  if (length < upload.offset) throw new TusError('LENGTH_BELOW_OFFSET')
  if (length > (await ctx.options.maxSize(ctx.req))) throw new TusError('MAX_SIZE_EXCEEDED')
  return { ...upload, length }
}
