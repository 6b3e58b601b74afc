import { randomBytes } from 'node:crypto'
import { TusError } from '../errors.js'

/** 128 bits of randomness, hex: unguessable and safe in a URL and a file name. */
export const generateId = (): string => randomBytes(16).toString('hex')

/**
 * Ids name files and URL segments, so only URL-safe characters, no leading dot, at most 128 characters.
 * That rules out "..", separators, NUL and anything that needs escaping.
 */
const ID = /^[A-Za-z0-9_-][A-Za-z0-9_.~-]{0,127}$/

export const isValidId = (id: unknown): id is string => typeof id === 'string' && ID.test(id)

export function assertId(id: unknown): asserts id is string {
  if (!isValidId(id)) throw new TusError('INVALID_ID')
}
