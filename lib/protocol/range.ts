/**
 * Range requests for GET (RFC 9110, section 14): one `bytes=` range; several, or anything malformed, is
 * ignored (the whole representation is served), as the RFC allows.
 */
import type { ByteRange } from '../stores/data-store.js'

/** A range within `size` bytes; 'unsatisfiable' for 416; undefined to serve everything. */
export function parseRange(header: string | undefined, size: number): ByteRange | 'unsatisfiable' | undefined {
  if (header === undefined) return undefined
  const match = /^\s*bytes\s*=\s*(\d*)\s*-\s*(\d*)\s*$/i.exec(header)
  if (!match || (match[1] === '' && match[2] === '')) return undefined
  const [, first, last] = match
  if (first === '') {
    // Suffix range: the last N bytes.
    const n = Number(last)
    if (n === 0 || size === 0) return 'unsatisfiable'
    return { start: Math.max(0, size - n), end: size - 1 }
  }
  const start = Number(first)
  const end = last === '' ? size - 1 : Math.min(Number(last), size - 1)
  if (last !== '' && Number(last) < start) return undefined
  if (start >= size) return 'unsatisfiable'
  return { start, end }
}
