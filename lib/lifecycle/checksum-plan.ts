/**
 * Checksums of one request's body (spec: checksum, checksum-trailer). Every body byte is hashed as it streams
 * through; nothing is read back from the store. A header names its algorithm up front; a trailer names it
 * only after the body, so a request that announces one (`Trailer: Upload-Checksum`) is hashed with every
 * algorithm served. A checksummed body is written staged and counts only once it is verified.
 */
import type { IncomingMessage } from 'node:http'
import type { StopReason } from '../body.js'
import { TusError } from '../errors.js'
import {
  CHECKSUM_ALGORITHMS,
  createStreamingHash,
  parseChecksum,
  type Checksum,
  type ChecksumAlgorithm,
  type StreamingHash,
} from '../protocol/checksum.js'

export interface ChecksumPlan {
  /** The Upload-Checksum header, already validated. */
  readonly header: Checksum | undefined
  /** The request announced an Upload-Checksum trailer. */
  readonly trailerDeclared: boolean
  /** Hashes of the body so far: the header's algorithm, or every one for an announced trailer. */
  readonly hashes: ReadonlyMap<ChecksumAlgorithm, StreamingHash>
}

const declaresTrailer = (req: IncomingMessage): boolean => /(^|,)\s*upload-checksum\s*(,|$)/i.test(String(req.headers.trailer ?? ''))

/**
 * Reads (and validates, 400) the Upload-Checksum header before the body is read. A request without a body
 * has nothing to check: its checksum is ignored (a real command-line client sends one with an empty POST).
 */
export function planChecksum(req: IncomingMessage, hasBody: boolean): ChecksumPlan {
  if (!hasBody) return { header: undefined, trailerDeclared: false, hashes: new Map() }
  const header = parseChecksum(req.headers['upload-checksum'])
  const trailerDeclared = declaresTrailer(req)
  const algorithms: readonly ChecksumAlgorithm[] = header ? [header.algorithm] : trailerDeclared ? CHECKSUM_ALGORITHMS : []
  return { header, trailerDeclared, hashes: new Map(algorithms.map((a) => [a, createStreamingHash(a)])) }
}

/** Whether the body must be verified before it counts. */
export const verifying = (plan: ChecksumPlan): boolean => plan.hashes.size > 0

/** Feeds a chunk to every hash of the plan; undefined when there is nothing to hash. */
export function hasherOf(plan: ChecksumPlan): ((chunk: Buffer) => void) | undefined {
  if (!verifying(plan)) return undefined
  const hashes = [...plan.hashes.values()]
  if (hashes.length === 1) return (chunk) => void hashes[0].update(chunk)
  return (chunk) => {
    for (const hash of hashes) hash.update(chunk)
  }
}

/**
 * The verdict on a staged body once it has ended: 'verified' (or nothing was asked), 'unverifiable' (it ended
 * early, so its checksum cannot be checked and none of it may count). Throws 400 for a trailer that is
 * missing, doubled or never announced, and 460 for a mismatch.
 */
export function checkBody(plan: ChecksumPlan, req: IncomingMessage, reason: StopReason): 'verified' | 'unverifiable' {
  const trailer = reason === 'end' ? req.trailers?.['upload-checksum'] : undefined
  if (!verifying(plan)) {
    // A trailer that was not announced was not hashed: it cannot be checked, and the body must not count.
    if (trailer !== undefined) throw new TusError('INVALID_CHECKSUM', 'An Upload-Checksum trailer must be announced with Trailer: Upload-Checksum')
    return 'verified'
  }
  if (reason !== 'end') return 'unverifiable'
  if (trailer !== undefined && plan.header) throw new TusError('INVALID_CHECKSUM', 'Upload-Checksum was sent both as a header and as a trailer')
  const expected = plan.header ?? parseChecksum(trailer)
  if (!expected) throw new TusError('INVALID_CHECKSUM', 'The Upload-Checksum trailer the request announced did not come')
  if (!plan.hashes.get(expected.algorithm)!.digest().equals(expected.digest)) throw new TusError('CHECKSUM_MISMATCH')
  return 'verified'
}
