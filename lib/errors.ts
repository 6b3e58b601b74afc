/**
 * The one table of protocol errors: code -> HTTP status and the message a client sees.
 * Statuses follow the tus 1.0 spec where it names one (spec: core, creation, checksum, concatenation, expiration).
 */
export const ERRORS = {
  UNSUPPORTED_VERSION: { status: 412, message: 'Tus-Resumable is missing or names an unsupported version' },
  INVALID_CONTENT_TYPE: { status: 415, message: 'Content-Type must be application/offset+octet-stream' },
  MISSING_OFFSET: { status: 400, message: 'Upload-Offset header is required' },
  INVALID_OFFSET: { status: 400, message: 'Upload-Offset must be a non-negative integer' },
  OFFSET_MISMATCH: { status: 409, message: 'Upload-Offset does not match the current offset of the upload' },
  INVALID_LENGTH: { status: 400, message: 'Upload-Length must be a non-negative integer' },
  MISSING_LENGTH: { status: 400, message: 'Upload-Length or Upload-Defer-Length: 1 is required' },
  INVALID_DEFER_LENGTH: { status: 400, message: 'Upload-Defer-Length must be 1, without Upload-Length' },
  LENGTH_ALREADY_SET: { status: 400, message: 'Upload-Length cannot be changed once it is set' },
  LENGTH_BELOW_OFFSET: { status: 400, message: 'Upload-Length is smaller than the bytes already received' },
  INVALID_CONTENT_LENGTH: { status: 400, message: 'Content-Length must be a non-negative integer' },
  MAX_SIZE_EXCEEDED: { status: 413, message: 'Upload is larger than the maximum size this server accepts' },
  BODY_EXCEEDS_LENGTH: { status: 413, message: 'Request body runs past Upload-Length' },
  INVALID_METADATA: { status: 400, message: 'Upload-Metadata is malformed' },
  METADATA_TOO_LARGE: { status: 400, message: 'Upload-Metadata is larger than this server accepts' },
  INVALID_CHECKSUM: { status: 400, message: 'Upload-Checksum must be "<algorithm> <base64 digest>"' },
  UNSUPPORTED_CHECKSUM_ALGORITHM: { status: 400, message: 'Upload-Checksum names an algorithm this server does not support' },
  CHECKSUM_MISMATCH: { status: 460, message: 'Checksum mismatch: the data was discarded' },
  INVALID_CONCAT: { status: 400, message: 'Upload-Concat must be "partial" or "final;<url> <url> ..."' },
  CONCAT_UNKNOWN_PART: { status: 400, message: 'Upload-Concat names an upload that does not exist' },
  CONCAT_NOT_PARTIAL: { status: 400, message: 'Upload-Concat names an upload that is not a partial upload' },
  CONCAT_WITH_LENGTH: { status: 400, message: 'A final upload takes no Upload-Length: its length is the sum of its parts' },
  CONCAT_WITH_BODY: { status: 400, message: 'A final upload takes no data' },
  CONCAT_FINAL_PATCH: { status: 403, message: 'A final upload cannot be patched' },
  CONCAT_PART_GONE: { status: 410, message: 'A partial upload of this final upload no longer exists' },
  CONCAT_TOO_MANY_PARTS: { status: 400, message: 'Upload-Concat names more partial uploads than this server accepts' },
  CONCAT_REPEATED_PART: { status: 400, message: 'Upload-Concat names a partial upload more than once' },
  INVALID_ID: { status: 400, message: 'Upload id is not valid' },
  ID_TAKEN: { status: 409, message: 'An upload with this id already exists' },
  NOT_FOUND: { status: 404, message: 'Upload not found' },
  GONE: { status: 410, message: 'Upload expired' },
  UNAUTHORIZED: { status: 401, message: 'Unauthorized' },
  FORBIDDEN: { status: 403, message: 'Forbidden' },
  METHOD_NOT_ALLOWED: { status: 405, message: 'Method not allowed' },
  INVALID_METHOD_OVERRIDE: { status: 400, message: 'X-HTTP-Method-Override names a method this server does not serve' },
  UPLOAD_LOCKED: { status: 423, message: 'Upload is in use by another request; retry shortly' },
  REQUEST_TIMEOUT: { status: 408, message: 'Request body stalled' },
  BODY_ALREADY_READ: { status: 500, message: 'Request body was consumed before the upload middleware' },
  RANGE_NOT_SATISFIABLE: { status: 416, message: 'Range not satisfiable' },
  TOO_MANY_UPLOADS: { status: 503, message: 'Too many uploads in progress; retry shortly' },
  LOCK_LOST: { status: 503, message: 'The request lost its hold on the upload; ask for the offset and retry' },
  LOCKER_UNAVAILABLE: { status: 503, message: 'The lock service is unavailable; retry shortly' },
  INTERNAL: { status: 500, message: 'Internal server error' },
} as const satisfies Record<string, { status: number; message: string }>

export type ErrorCode = keyof typeof ERRORS

/** An error whose status and message reach the client. Throw it from hooks to refuse a request. */
export class TusError extends Error {
  readonly code: ErrorCode | string
  readonly status: number
  /** Whether `message` may be shown to the client: true for every code but INTERNAL. */
  readonly expose: boolean

  constructor(code: ErrorCode, message?: string)
  constructor(code: string, message: string, status: number)
  constructor(code: string, message?: string, status?: number) {
    const entry = (ERRORS as Record<string, { status: number; message: string }>)[code]
    if (!entry && status === undefined) throw new TypeError(`TusError: unknown code ${code}; pass a status`)
    super(message ?? entry?.message ?? code)
    this.name = 'TusError'
    this.code = code
    this.status = status ?? entry.status
    this.expose = code !== 'INTERNAL'
    if (!Number.isInteger(this.status) || this.status < 400 || this.status > 599) {
      throw new TypeError(`TusError: status must be 400..599, got ${status}`)
    }
  }
}

export const isTusError = (err: unknown): err is TusError => err instanceof TusError

/** A bad option, found when tus() is called: a TypeError that names it. */
export function optionError(name: string, what: string): never {
  throw new TypeError(`tus(): option "${name}" must be ${what}`)
}
