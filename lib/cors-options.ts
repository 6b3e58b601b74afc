/**
 * The `cors` option: its type, and its validation into a resolved form (see cors.ts for the headers).
 */
import type { IncomingMessage } from 'node:http'
import { TUS_REQUEST_HEADERS, TUS_RESPONSE_HEADERS } from './protocol/constants.js'
import { optionError } from './errors.js'

export interface CorsOptions {
  /**
   * Which origins may call the server: '*' (any, never with credentials), a list of exact origins
   * (e.g. 'https://app.example.com'), or a function deciding per origin. Required.
   */
  origin: '*' | string[] | ((origin: string, req: IncomingMessage) => boolean)
  /** Allow cookies / HTTP auth on cross-origin requests (Access-Control-Allow-Credentials). Default: false. */
  credentials?: boolean
  /** Request headers allowed on top of the tus ones (e.g. a custom auth header). */
  allowedHeaders?: string[]
  /** Response headers exposed on top of the tus ones. */
  exposedHeaders?: string[]
  /** Seconds a browser may cache a preflight answer. Default: 86400. */
  maxAge?: number
}

export interface ResolvedCors {
  readonly allows: (origin: string, req: IncomingMessage) => boolean
  /** Whether the answer is the same for every origin ('*' without credentials). */
  readonly wildcard: boolean
  readonly credentials: boolean
  readonly allowHeaders: string
  readonly exposeHeaders: string
  readonly maxAge: number
}

/** Headers a browser client reads besides the tus ones. */
const EXTRA_EXPOSED = ['Upload-Checksum', 'Retry-After', 'Content-Disposition', 'Content-Length']
/** A header name token (RFC 9110 field-name). */
const TOKEN = /^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$/

const fail = (name: string, what: string): never => optionError(`cors.${name}`, what)

function headerList(value: unknown, name: string): string[] {
  if (value === undefined) return []
  if (!Array.isArray(value) || !value.every((h) => typeof h === 'string' && TOKEN.test(h))) {
    return fail(name, 'an array of header names')
  }
  return value as string[]
}

const merge = (...lists: string[][]): string => {
  const seen = new Map<string, string>()
  for (const h of lists.flat()) if (!seen.has(h.toLowerCase())) seen.set(h.toLowerCase(), h)
  return [...seen.values()].join(', ')
}

export function normalizeCors(input: unknown): ResolvedCors | undefined {
  if (input === undefined || input === false) return undefined
  if (input === null || typeof input !== 'object') {
    throw new TypeError('tus(): option "cors" must be false or an object with an origin')
  }
  const o = input as Record<string, unknown>
  for (const key of Object.keys(o)) {
    if (!['origin', 'credentials', 'allowedHeaders', 'exposedHeaders', 'maxAge'].includes(key)) {
      throw new TypeError(`tus(): option "cors.${key}" is not known`)
    }
  }
  if (o.credentials !== undefined && typeof o.credentials !== 'boolean') fail('credentials', 'a boolean')
  const credentials = (o.credentials as boolean | undefined) ?? false
  let allows: ResolvedCors['allows']
  const origin = o.origin
  if (origin === '*') {
    // Any origin may read responses, but never with the user's cookies: that would let any site act as them.
    if (credentials) fail('origin', "a list or a function when credentials is true (not '*')")
    allows = () => true
  } else if (Array.isArray(origin)) {
    if (!origin.every((x) => typeof x === 'string' && /^https?:\/\/[^/\s]+$/.test(x))) {
      fail('origin', "'*', an array of origins like 'https://app.example.com', or a function")
    }
    const set = new Set(origin.map((x: string) => x.toLowerCase()))
    allows = (value) => set.has(value.toLowerCase())
  } else if (typeof origin === 'function') {
    const decide = origin as (origin: string, req: IncomingMessage) => boolean
    allows = (value, req) => decide(value, req) === true
  } else {
    return fail('origin', "'*', an array of origins like 'https://app.example.com', or a function")
  }
  let maxAge = 86_400
  if (o.maxAge !== undefined) {
    if (typeof o.maxAge !== 'number' || !Number.isSafeInteger(o.maxAge) || o.maxAge < 0) fail('maxAge', 'an integer >= 0')
    maxAge = o.maxAge as number
  }
  return Object.freeze({
    allows,
    wildcard: origin === '*',
    credentials,
    allowHeaders: merge(TUS_REQUEST_HEADERS, headerList(o.allowedHeaders, 'allowedHeaders')),
    exposeHeaders: merge(TUS_RESPONSE_HEADERS, EXTRA_EXPOSED, headerList(o.exposedHeaders, 'exposedHeaders')),
    maxAge,
  })
}
