/**
 * Which text of "Resumable Uploads for HTTP" (draft-ietf-httpbis-resumable-upload) a request speaks, and what
 * that text asks of a server. A draft client names its version in every request with
 * Upload-Draft-Interop-Version (e.g. draft-6 §4.2.3); each version is served by its own text:
 *   3 (around draft -01/-02), 4, 5 (draft -03), 6 (drafts -04/-05), 7 (drafts -06..-08), 8 (draft -09..-11).
 * The differences are read from each text and its Changes appendix.
 */
import { TusError } from '../errors.js'

export const DRAFT_VERSIONS = [3, 4, 5, 6, 7, 8] as const
export type DraftVersion = (typeof DRAFT_VERSIONS)[number]

export const INTEROP_HEADER = 'upload-draft-interop-version'

export interface DraftFeatures {
  readonly version: DraftVersion
  /**
   * An append must carry Upload-Complete (draft-6 §4.3.1 onwards). Before, only a non-final append had to say
   * `?0` (draft-3 §5), so an append without it ends the upload.
   */
  readonly appendNeedsComplete: boolean
  /**
   * PATCH media type: 'none' (3, 4: not defined), 'lenient' (5: application/partial-upload, or none at all, as
   * tus-js-client's 'ietf-draft-03' sends it), 'required' (6 onwards).
   */
  readonly partialUpload: 'none' | 'lenient' | 'required'
  /** RFC 9457 problem types: mismatching offset, completed upload (draft-5 §9). */
  readonly problems: boolean
  /** The inconsistent-length problem and its status (draft-6 §8.3: 409; draft-7 §8.3, draft-11 §8.3: 400). */
  readonly inconsistentLength: 409 | 400 | undefined
  /** Upload-Length request and response field (draft-6 §4.1.3 onwards). */
  readonly uploadLength: boolean
  /** Upload-Limit (draft-6 §4.1.4 onwards). */
  readonly limits: boolean
  /** HEAD must carry Upload-Limit (draft-7 §4.3.2, draft-11 §4.3.2); in 6 it may. */
  readonly headLimits: boolean
  /** OPTIONS answers carry Accept-Patch with application/partial-upload (draft-11 §4.1.4). */
  readonly acceptPatch: boolean
  /** HEAD and DELETE carrying Upload-Offset or Upload-Complete are refused with 400 (draft-3 §4, §6; 4; 5). */
  readonly refuseStateFields: boolean
  /** A structured field with another value is ignored, as if absent (draft-7 §4.1.1 onwards); before: 400. */
  readonly ignoreInvalidFields: boolean
  /**
   * While an append's body streams, interim 104 responses report the offset (Upload-Offset): SHOULD from
   * draft-7 §4.4.2 on (draft-11 §4.4.2); a MAY in interop 4 to 6 (draft-6 §4.4.2), where none is sent.
   */
  readonly appendProgress: boolean
  /** A non-empty append to a completed upload is an inconsistent length (draft-11 §4.4.2). */
  readonly completedAppendIsLength: boolean
}

const table = new Map<DraftVersion, DraftFeatures>(
  DRAFT_VERSIONS.map((version) => [
    version,
    Object.freeze({
      version,
      appendNeedsComplete: version >= 6,
      partialUpload: version <= 4 ? 'none' : version === 5 ? 'lenient' : 'required',
      problems: version >= 5,
      inconsistentLength: version < 6 ? undefined : version === 6 ? 409 : 400,
      uploadLength: version >= 6,
      limits: version >= 6,
      headLimits: version >= 7,
      acceptPatch: version >= 8,
      refuseStateFields: version <= 5,
      ignoreInvalidFields: version >= 7,
      appendProgress: version >= 7,
      completedAppendIsLength: version >= 8,
    } satisfies DraftFeatures),
  ]),
)

export const featuresOf = (version: DraftVersion): DraftFeatures => table.get(version)!

/** Whether the request is a draft request at all: it names an interop version. */
export const isDraftRequest = (headers: Record<string, string | string[] | undefined>): boolean =>
  headers[INTEROP_HEADER] !== undefined

/**
 * The version a draft request names, if this server serves it; otherwise 400 naming what it serves.
 * The value is an Integer (draft-3 §4.2, and every later text's Draft Version Identification).
 */
export function chooseVersion(value: string | string[] | undefined, served: readonly DraftVersion[]): DraftFeatures {
  const text = typeof value === 'string' ? value.trim() : ''
  const n = /^[0-9]{1,3}$/.test(text) ? Number(text) : NaN
  if (!(served as readonly number[]).includes(n)) {
    throw new TusError(
      'UNSUPPORTED_DRAFT_VERSION',
      `Upload-Draft-Interop-Version ${JSON.stringify(text)} is not served; served versions: ${served.join(', ') || 'none'}`,
      400,
    )
  }
  return featuresOf(n as DraftVersion)
}
