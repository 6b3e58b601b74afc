/** Protocol versions this server speaks, most preferred first (spec: core, Tus-Version). */
export const TUS_VERSION = '1.0.0'
export const SUPPORTED_VERSIONS = [TUS_VERSION] as const

/** The media type of a PATCH body (spec: core, PATCH). */
export const OFFSET_OCTET_STREAM = 'application/offset+octet-stream'

/** Every tus 1.0 extension, by its exact protocol name. */
export const EXTENSIONS = [
  'creation',
  'creation-with-upload',
  'creation-defer-length',
  'termination',
  'checksum',
  'checksum-trailer',
  'concatenation',
  'concatenation-unfinished',
  'expiration',
] as const
export type Extension = (typeof EXTENSIONS)[number]

/** Headers a browser client must be allowed to send and read (used by CORS). */
export const TUS_REQUEST_HEADERS = [
  'Authorization', 'Content-Type', 'Location', 'Tus-Extension', 'Tus-Max-Size', 'Tus-Resumable', 'Tus-Version',
  'Upload-Concat', 'Upload-Defer-Length', 'Upload-Length', 'Upload-Metadata', 'Upload-Offset',
  'Upload-Checksum', 'X-HTTP-Method-Override', 'X-Requested-With',
  // IETF Resumable Uploads draft (lib/drafts)
  'Upload-Draft-Interop-Version', 'Upload-Complete',
]
export const TUS_RESPONSE_HEADERS = [
  'Location', 'Tus-Checksum-Algorithm', 'Tus-Extension', 'Tus-Max-Size', 'Tus-Resumable', 'Tus-Version',
  'Upload-Concat', 'Upload-Defer-Length', 'Upload-Expires', 'Upload-Length', 'Upload-Metadata', 'Upload-Offset',
  // IETF Resumable Uploads draft (lib/drafts)
  'Upload-Complete', 'Upload-Limit',
]
