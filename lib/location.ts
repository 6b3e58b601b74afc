/**
 * The absolute URL of an upload, for Location (spec: creation, POST). Scheme and host come from the
 * connection and the Host header; the Forwarded / X-Forwarded-* headers a proxy sets are used only when the
 * host said to trust them (option trustProxy, or Express's `trust proxy` setting), since any client can send them.
 */
import type { IncomingMessage } from 'node:http'
import type { Context } from './context.js'

const HOST = /^[A-Za-z0-9.\-:[\]]+$/
const PROTO = /^https?$/

type AppRequest = IncomingMessage & { app?: { get?: (name: string) => unknown } }

export function locationOf(ctx: Context, id: string): string {
  const path = `${ctx.base}/${encodeURIComponent(id)}`
  if (ctx.options.relativeLocation) return path
  const { req } = ctx
  let proto = (req.socket as { encrypted?: boolean }).encrypted ? 'https' : 'http'
  // HTTP/2 names the host in :authority (RFC 9113, 8.3.1); Host may be absent.
  let host = req.headers.host ?? (req.headers[':authority'] as string | undefined)
  if (proxyTrusted(ctx)) {
    // Field by field: a Forwarded header with only `for=` still lets X-Forwarded-Proto/Host through.
    const forwarded = fromForwarded(req.headers.forwarded)
    const xForwarded = fromXForwarded(req)
    const fwdProto = forwarded?.proto ?? xForwarded.proto
    const fwdHost = forwarded?.host ?? xForwarded.host
    if (fwdProto && PROTO.test(fwdProto)) proto = fwdProto
    if (fwdHost && HOST.test(fwdHost)) host = fwdHost
  }
  if (!host || !HOST.test(host)) return path
  return `${proto}://${withoutDefaultPort(host, proto)}${path}`
}

/** `host:443` over https and `host:80` over http name the same origin as `host`. */
function withoutDefaultPort(host: string, proto: string): string {
  const port = proto === 'https' ? ':443' : ':80'
  return host.endsWith(port) ? host.slice(0, -port.length) : host
}

/** trustProxy when set; otherwise whether Express trusts the peer this request came from. */
function proxyTrusted(ctx: Context): boolean {
  if (ctx.options.trustProxy !== undefined) return ctx.options.trustProxy
  const req = ctx.req as AppRequest
  const trust = typeof req.app?.get === 'function' ? req.app.get('trust proxy fn') : undefined
  if (typeof trust !== 'function') return false
  try {
    return trust(req.socket.remoteAddress, 0) === true
  } catch {
    return false
  }
}

interface Forwarded {
  proto?: string
  host?: string
}

/** RFC 7239: the first (client-most) element's proto and host; undefined when the header is absent. */
function fromForwarded(header: string | string[] | undefined): Forwarded | undefined {
  if (typeof header !== 'string' || header.trim() === '') return undefined
  const out: Forwarded = {}
  const first = header.split(',')[0]
  for (const pair of first.split(';')) {
    const eq = pair.indexOf('=')
    if (eq === -1) continue
    const key = pair.slice(0, eq).trim().toLowerCase()
    let value = pair.slice(eq + 1).trim()
    if (value.length >= 2 && value.startsWith('"') && value.endsWith('"')) value = value.slice(1, -1)
    if (key === 'proto') out.proto = value.toLowerCase()
    else if (key === 'host') out.host = value
  }
  return out
}

/** The de-facto headers; a list (several proxies) is read from its first, client-most entry. */
function fromXForwarded(req: IncomingMessage): Forwarded {
  const first = (value: string | string[] | undefined): string | undefined =>
    typeof value === 'string' ? value.split(',')[0].trim() || undefined : undefined
  return { proto: first(req.headers['x-forwarded-proto'])?.toLowerCase(), host: first(req.headers['x-forwarded-host']) }
}
