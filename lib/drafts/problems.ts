/**
 * Errors of the draft protocol. From interop 5 on, three of them have RFC 9457 problem types (draft-5 §9,
 * draft-6 §8, draft-11 §8): they are answered as application/problem+json; a version without problem types
 * gets the same status, fields and a text message.
 */
import { declaresBody } from '../body.js'
import { replyError, type Context, type Headers } from '../context.js'
import { TusError } from '../errors.js'

export type ProblemType = 'mismatching-upload-offset' | 'completed-upload' | 'inconsistent-upload-length'

const TITLES: Record<ProblemType, string> = {
  'mismatching-upload-offset': 'offset from request does not match offset of resource',
  'completed-upload': 'upload is already completed',
  'inconsistent-upload-length': 'inconsistent length values for upload',
}

/** A refusal with the fields its response must carry, and a problem type where the version defines one. */
export class DraftError extends TusError {
  constructor(
    code: string,
    message: string,
    status: number,
    readonly headers: Headers = {},
    readonly problem?: { type: ProblemType; members?: Record<string, number> },
  ) {
    super(code, message, status)
  }
}

export function mismatchingOffset(expected: number, provided: number, headers: Headers): DraftError {
  return new DraftError('DRAFT_OFFSET_MISMATCH', `Upload-Offset ${provided} does not match the upload's offset ${expected}`, 409,
    { 'Upload-Offset': expected, ...headers },
    { type: 'mismatching-upload-offset', members: { 'expected-offset': expected, 'provided-offset': provided } })
}

export function completedUpload(status = 400, headers: Headers = {}): DraftError {
  return new DraftError('DRAFT_COMPLETED_UPLOAD', 'The upload is already complete and cannot be modified', status, headers, { type: 'completed-upload' })
}

export function inconsistentLength(status: number, message: string, headers: Headers = {}): DraftError {
  return new DraftError('DRAFT_INCONSISTENT_LENGTH', message, status, headers, { type: 'inconsistent-upload-length' })
}

/** Answers an error to a draft request: a problem document where the version has problem types. */
export function replyDraftError(ctx: Context, err: TusError): void {
  const { req } = ctx
  const headers: Headers = err instanceof DraftError ? { ...err.headers } : {}
  // An unread body may still be arriving: close the connection rather than read it all.
  if (declaresBody(req, Number(req.headers['content-length'] ?? 0)) && !req.readableEnded) headers.Connection = 'close'
  if (err instanceof DraftError && err.problem && ctx.draft?.problems) {
    const doc = { type: `https://iana.org/assignments/http-problem-types#${err.problem.type}`, title: TITLES[err.problem.type], detail: err.message, ...err.problem.members }
    return replyError(ctx, err, headers, { contentType: 'application/problem+json', body: JSON.stringify(doc) })
  }
  replyError(ctx, err, headers)
}
