import { randomFillSync } from 'node:crypto'
import { TusError } from '../errors.js'

/** Random bytes are drawn 4 KiB at a time: one call into the CSPRNG per 256 ids rather than per id. */
const pool = Buffer.alloc(4096)
let used = pool.length

/** 128 bits from the CSPRNG, hex: unguessable and safe in a URL and a file name. */
export function generateId(): string {
  if (used === pool.length) {
    randomFillSync(pool)
    used = 0
  }
  const id = pool.toString('hex', used, used + 16)
  used += 16
  return id
}

/**
 * Ids name files and URL segments, so only URL-safe characters, no leading dot, at most 128 characters.
 * That rules out "..", separators, NUL and anything that needs escaping.
 */
const ID = /^[A-Za-z0-9_-][A-Za-z0-9_.~-]{0,127}$/

export const isValidId = (id: unknown): id is string => typeof id === 'string' && ID.test(id)

export function assertId(id: unknown): asserts id is string {
  if (!isValidId(id)) throw new TusError('INVALID_ID')
}
