/**
 * Where a request sits relative to the upload collection. The mount path is read from the request
 * (Express's baseUrl, or Connect's originalUrl vs url), so it is configured once, by the router.
 */
import type { IncomingMessage } from 'node:http'

export interface Route {
  /** Mount path of the collection, no trailing slash. */
  base: string
  /** undefined: the collection URL; a string: an upload id (already percent-decoded). */
  id: string | undefined
}

type RoutedRequest = IncomingMessage & { baseUrl?: string; originalUrl?: string }

const pathOf = (url: string): string => {
  const q = url.search(/[?#]/)
  return q === -1 ? url : url.slice(0, q)
}

/** The router's mount path for this request. */
function mountPath(req: RoutedRequest, urlPath: string): string {
  if (typeof req.baseUrl === 'string') return req.baseUrl
  if (typeof req.originalUrl === 'string' && req.originalUrl !== req.url) {
    // Connect strips the mount path from req.url and keeps the full one in originalUrl.
    const original = pathOf(req.originalUrl)
    if (urlPath === '/' && !original.endsWith('/')) return original
    if (original.endsWith(urlPath)) return original.slice(0, original.length - urlPath.length)
  }
  return ''
}

/** undefined when the request is not for this middleware (it then goes to next()). */
export function route(req: RoutedRequest, pathOption: string | undefined): Route | undefined {
  let rest = pathOf(req.url ?? '/')
  let base = mountPath(req, rest).replace(/\/+$/, '')
  if (pathOption !== undefined) {
    if (rest === pathOption || rest === `${pathOption}/`) rest = '/'
    else if (rest.startsWith(`${pathOption}/`)) rest = rest.slice(pathOption.length)
    else return undefined
    base += pathOption
  }
  if (rest === '' || rest === '/') return { base, id: undefined }
  const segment = rest.slice(1)
  if (segment.includes('/')) return undefined
  let id: string
  try {
    id = decodeURIComponent(segment)
  } catch {
    id = segment // not valid percent-encoding: never a valid id, answered as not found
  }
  return { base, id }
}
