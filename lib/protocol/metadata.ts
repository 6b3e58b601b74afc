/**
 * Upload-Metadata: comma-separated `key base64value` pairs (spec: creation, Upload-Metadata).
 */
import { TusError } from '../errors.js'
import { BASE64 } from './headers.js'

/** Keys: non-empty, no spaces, commas or control characters; printable ASCII. */
const KEY = /^[\x21-\x2b\x2d-\x7e]+$/

const decoder = new TextDecoder('utf-8')

export type Metadata = Record<string, string>

/** Parses and validates the header; values are decoded to UTF-8 strings. */
export function parseMetadata(header: string | string[] | undefined, maxSize: number): Metadata {
  const out: Metadata = Object.create(null)
  if (header === undefined) return out
  if (Array.isArray(header)) throw new TusError('INVALID_METADATA')
  if (Buffer.byteLength(header) > maxSize) throw new TusError('METADATA_TOO_LARGE')
  if (header.trim() === '') return out
  for (const raw of header.split(',')) {
    const pair = raw.trim()
    const space = pair.indexOf(' ')
    const key = space === -1 ? pair : pair.slice(0, space)
    const value = space === -1 ? '' : pair.slice(space + 1)
    if (!KEY.test(key) || !BASE64.test(value) || Object.hasOwn(out, key)) throw new TusError('INVALID_METADATA')
    out[key] = decoder.decode(Buffer.from(value, 'base64'))
  }
  return { ...out }
}

/** The header form of metadata, as HEAD echoes it (spec: creation, POST). */
export function formatMetadata(metadata: Metadata): string {
  const parts: string[] = []
  for (const key of Object.keys(metadata)) {
    const value = metadata[key]
    parts.push(value === '' ? key : `${key} ${Buffer.from(value, 'utf8').toString('base64')}`)
  }
  return parts.join(',')
}

/** Validates metadata a hook returned, so it can be echoed as a header safely. */
export function assertMetadata(metadata: unknown): asserts metadata is Metadata {
  if (metadata === null || typeof metadata !== 'object' || Array.isArray(metadata)) {
    throw new TypeError('metadata must be an object of strings')
  }
  for (const [key, value] of Object.entries(metadata)) {
    if (!KEY.test(key) || typeof value !== 'string') throw new TypeError(`metadata key ${JSON.stringify(key)} is not valid`)
  }
}
