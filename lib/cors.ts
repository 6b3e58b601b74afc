/**
 * CORS headers for browser clients on another origin. They are set on the response before the request is
 * handled, so every answer (errors included) carries them; a preflight is answered in handlers/options.ts.
 */
import type { IncomingMessage, ServerResponse } from 'node:http'
import type { ResolvedCors } from './cors-options.js'

/** Every method a tus client uses, plus the download. */
const METHODS = 'POST, HEAD, PATCH, DELETE, GET, OPTIONS'

/** A CORS preflight: an OPTIONS asking whether a cross-origin request may be sent. */
export const isPreflight = (req: IncomingMessage, method: string): boolean =>
  method === 'OPTIONS' && typeof req.headers.origin === 'string' &&
  typeof req.headers['access-control-request-method'] === 'string'

/**
 * Sets the CORS response headers when the request's origin is allowed. A disallowed origin gets none, so the
 * browser keeps the response from the page; the request is still served (CORS protects readers, not servers).
 */
export function applyCors(cors: ResolvedCors, req: IncomingMessage, res: ServerResponse, preflight: boolean): void {
  // The answer depends on Origin (unless it is '*' for everyone): caches must keep one per origin.
  if (!cors.wildcard) varyOnOrigin(res)
  const origin = req.headers.origin
  if (typeof origin !== 'string' || origin === '') return
  let allowed: boolean
  try {
    allowed = cors.allows(origin, req)
  } catch {
    allowed = false // a throwing origin callback is a refusal, never a crash
  }
  if (!allowed) return
  res.setHeader('Access-Control-Allow-Origin', cors.wildcard ? '*' : origin)
  if (cors.credentials) res.setHeader('Access-Control-Allow-Credentials', 'true')
  if (preflight) {
    res.setHeader('Access-Control-Allow-Methods', METHODS)
    res.setHeader('Access-Control-Allow-Headers', cors.allowHeaders)
    res.setHeader('Access-Control-Max-Age', String(cors.maxAge))
  } else {
    res.setHeader('Access-Control-Expose-Headers', cors.exposeHeaders)
  }
}

/** Adds Origin to Vary without dropping what the app put there. */
function varyOnOrigin(res: ServerResponse): void {
  const current = res.getHeader('Vary')
  const text = Array.isArray(current) ? current.join(', ') : current === undefined ? '' : String(current)
  if (text === '') res.setHeader('Vary', 'Origin')
  else if (!/(^|,)\s*(origin|\*)\s*(,|$)/i.test(text)) res.setHeader('Vary', `${text}, Origin`)
}
