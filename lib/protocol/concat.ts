/**
 * Upload-Concat (spec: concatenation): `partial`, or `final;<url> <url> ...` with absolute or relative URLs.
 */
import { TusError } from '../errors.js'

export type ConcatHeader = { type: 'partial' } | { type: 'final'; urls: string[] }

export function parseConcat(value: string | string[] | undefined): ConcatHeader | undefined {
  if (value === undefined) return undefined
  if (Array.isArray(value)) throw new TusError('INVALID_CONCAT')
  const v = value.trim()
  if (v === 'partial') return { type: 'partial' }
  if (!v.startsWith('final;')) throw new TusError('INVALID_CONCAT')
  const urls = v.slice('final;'.length).split(' ').filter((u) => u !== '')
  if (urls.length === 0) throw new TusError('INVALID_CONCAT')
  return { type: 'final', urls }
}

/**
 * The upload id a partial upload URL names, relative to the collection's mount path `base`; undefined when the
 * URL does not point into this collection. Hosts in absolute URLs are not compared: proxies rewrite them.
 */
export function idFromUrl(url: string, base: string): string | undefined {
  let path: string
  try {
    path = new URL(url, `http://relative.invalid${base}/`).pathname
  } catch {
    return undefined
  }
  const prefix = `${base}/`
  if (!path.startsWith(prefix)) return undefined
  const segment = path.slice(prefix.length)
  if (segment === '' || segment.includes('/')) return undefined
  try {
    return decodeURIComponent(segment)
  } catch {
    return undefined
  }
}
