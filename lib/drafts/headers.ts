/**
 * The draft's fields are Structured Fields (RFC 8941): Upload-Complete is a Boolean Item, Upload-Offset and
 * Upload-Length are Integer Items, Upload-Limit is a Dictionary (draft-7 §4.1, draft-11 §4.1). Parameters on
 * an Item are allowed by RFC 8941 and ignored here.
 */
import { TusError } from '../errors.js'
import type { DraftFeatures } from './version.js'

type HeaderValue = string | string[] | undefined

const BOOLEAN = /^\?([01])(?:;.*)?$/
const INTEGER = /^([0-9]{1,15})(?:;.*)?$/

function invalid(field: string, what: string): TusError {
  return new TusError('INVALID_DRAFT_FIELD', `${field} must be ${what}`, 400)
}

/**
 * A field that is not what its definition says: ignored from draft-7 on ("other values MUST cause the entire
 * header field to be ignored", draft-7 §4.1.1), refused with 400 before.
 */
function refuseOrIgnore(features: DraftFeatures, field: string, what: string): undefined {
  if (features.ignoreInvalidFields) return undefined
  throw invalid(field, what)
}

/** Upload-Complete: true, false, or undefined when absent (or ignored). */
export function parseComplete(value: HeaderValue, features: DraftFeatures): boolean | undefined {
  if (value === undefined) return undefined
  const m = typeof value === 'string' ? BOOLEAN.exec(value.trim()) : null
  if (!m) return refuseOrIgnore(features, 'Upload-Complete', 'a structured-field boolean (?1 or ?0)')
  return m[1] === '1'
}

/** Upload-Offset / Upload-Length: a non-negative Integer, or undefined when absent (or ignored). */
export function parseInteger(value: HeaderValue, field: string, features: DraftFeatures): number | undefined {
  if (value === undefined) return undefined
  const m = typeof value === 'string' ? INTEGER.exec(value.trim()) : null
  if (!m) return refuseOrIgnore(features, field, 'a non-negative structured-field integer')
  return Number(m[1])
}

export const booleanField = (value: boolean): string => (value ? '?1' : '?0')

export interface Limits {
  'max-size'?: number
  'min-size'?: number
  'max-append-size'?: number
  'min-append-size'?: number
  'max-age'?: number
}

/**
 * Upload-Limit as a Dictionary of Integers. With no limit at all a server sends `min-size=0` rather than an
 * empty value (draft-6 §4.1.4, draft-7 §4.1.4).
 */
export function formatLimits(limits: Limits): string {
  const parts = Object.entries(limits)
    .filter(([, v]) => v !== undefined)
    .map(([k, v]) => `${k}=${Math.max(0, Math.floor(v as number))}`)
  return parts.length === 0 ? 'min-size=0' : parts.join(', ')
}
