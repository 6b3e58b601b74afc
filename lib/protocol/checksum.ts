/**
 * Upload-Checksum: `<algorithm> <base64 digest>` (spec: checksum). Pure parsing and streaming hashes.
 */
import { createHash } from 'node:crypto'
import { TusError } from '../errors.js'
import { BASE64 } from './headers.js'
import { Crc32Hash } from './crc32.js'

/** Advertised in Tus-Checksum-Algorithm; sha1 is the one the spec requires. */
export const CHECKSUM_ALGORITHMS = ['sha1', 'md5', 'sha256', 'sha512', 'crc32'] as const
export type ChecksumAlgorithm = (typeof CHECKSUM_ALGORITHMS)[number]

const DIGEST_BYTES: Record<ChecksumAlgorithm, number> = { sha1: 20, md5: 16, sha256: 32, sha512: 64, crc32: 4 }

export interface Checksum {
  algorithm: ChecksumAlgorithm
  digest: Buffer
}

export interface StreamingHash {
  update(chunk: Buffer): unknown
  digest(): Buffer
}

const isAlgorithm = (name: string): name is ChecksumAlgorithm => (CHECKSUM_ALGORITHMS as readonly string[]).includes(name)

/** Undefined when absent; 400 for an unsupported algorithm, bad base64 or a digest of the wrong size. */
export function parseChecksum(value: string | string[] | undefined): Checksum | undefined {
  if (value === undefined) return undefined
  if (Array.isArray(value)) throw new TusError('INVALID_CHECKSUM')
  const match = /^([^ ]+) +([^ ]*)$/.exec(value.trim())
  if (!match) throw new TusError('INVALID_CHECKSUM')
  const [, algorithm, encoded] = match
  if (!isAlgorithm(algorithm)) throw new TusError('UNSUPPORTED_CHECKSUM_ALGORITHM')
  if (!BASE64.test(encoded)) throw new TusError('INVALID_CHECKSUM')
  const digest = Buffer.from(encoded, 'base64')
  if (digest.length !== DIGEST_BYTES[algorithm]) throw new TusError('INVALID_CHECKSUM')
  return { algorithm, digest }
}

export function createStreamingHash(algorithm: ChecksumAlgorithm): StreamingHash {
  return algorithm === 'crc32' ? new Crc32Hash() : createHash(algorithm)
}
