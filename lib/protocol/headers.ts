/**
 * Strict parsers for tus request headers. Pure functions: they return a value or throw a TusError.
 */
import { TusError } from '../errors.js'
import { OFFSET_OCTET_STREAM, SUPPORTED_VERSIONS } from './constants.js'

type HeaderValue = string | string[] | undefined

/** A header that appears more than once is ambiguous; tus headers are single-valued. */
function single(value: HeaderValue, code: 'INVALID_OFFSET' | 'INVALID_LENGTH' | 'INVALID_DEFER_LENGTH' | 'INVALID_METADATA' | 'INVALID_CONTENT_LENGTH'): string | undefined {
  if (Array.isArray(value)) throw new TusError(code)
  return value
}

const DIGITS = /^[0-9]{1,16}$/

/** Canonical, padded base64 (Upload-Metadata values, Upload-Checksum digests). */
export const BASE64 = /^(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?$/

/** Non-negative decimal integer and nothing else: no sign, exponent, hex, spaces or fraction. */
export function parseNonNegativeInt(value: string, code: 'INVALID_OFFSET' | 'INVALID_LENGTH' | 'INVALID_CONTENT_LENGTH'): number {
  if (!DIGITS.test(value)) throw new TusError(code)
  const n = Number(value)
  if (n > Number.MAX_SAFE_INTEGER) throw new TusError(code)
  return n
}

/** spec: core, Tus-Resumable: false when the client's version is missing or one this server does not speak. */
export function isSupportedVersion(value: HeaderValue): boolean {
  return typeof value === 'string' && (SUPPORTED_VERSIONS as readonly string[]).includes(value.trim())
}

/** spec: core, Upload-Offset. */
export function parseUploadOffset(value: HeaderValue): number {
  const v = single(value, 'INVALID_OFFSET')
  if (v === undefined) throw new TusError('MISSING_OFFSET')
  return parseNonNegativeInt(v, 'INVALID_OFFSET')
}

/** spec: core, Upload-Length. Undefined when absent. */
export function parseUploadLength(value: HeaderValue): number | undefined {
  const v = single(value, 'INVALID_LENGTH')
  return v === undefined ? undefined : parseNonNegativeInt(v, 'INVALID_LENGTH')
}

/** spec: creation, Upload-Defer-Length: the only legal value is "1". */
export function parseDeferLength(value: HeaderValue): boolean {
  const v = single(value, 'INVALID_DEFER_LENGTH')
  if (v === undefined) return false
  if (v !== '1') throw new TusError('INVALID_DEFER_LENGTH')
  return true
}

/** Content-Length, when present, strictly parsed (Node already rejects most malformed ones). */
export function parseContentLength(value: HeaderValue): number | undefined {
  const v = single(value, 'INVALID_CONTENT_LENGTH')
  return v === undefined ? undefined : parseNonNegativeInt(v, 'INVALID_CONTENT_LENGTH')
}

/** spec: core, PATCH: the body's media type, parameters ignored, case-insensitive. */
export function isOffsetOctetStream(value: HeaderValue): boolean {
  if (typeof value !== 'string') return false
  const semi = value.indexOf(';')
  return (semi === -1 ? value : value.slice(0, semi)).trim().toLowerCase() === OFFSET_OCTET_STREAM
}
