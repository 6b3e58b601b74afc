/**
 * tus(options): validates options once, and returns a named (req, res, next) handler that is also an event
 * emitter. It serves the upload collection URL and the upload URLs below it; anything else goes to next().
 */
import createDebug from 'debug'
import { EventEmitter } from 'node:events'
import type { IncomingMessage, ServerResponse } from 'node:http'
import type { Http2ServerRequest, Http2ServerResponse } from 'node:http2'
import { declaresBody } from './body.js'
import { applyCors, isPreflight } from './cors.js'
import { replyError, type Context, type Server } from './context.js'
import { ERRORS, TusError } from './errors.js'
import { mixinEmitter, type TusEmitter } from './events.js'
import { handleDelete } from './handlers/delete.js'
import { handleGet } from './handlers/get.js'
import { handleHead } from './handlers/head.js'
import { handleOptions } from './handlers/options.js'
import { handlePatch } from './handlers/patch.js'
import { handlePost } from './handlers/post.js'
import { startSweeper } from './lifecycle/sweep.js'
import { normalizeOptions, type ResolvedOptions, type TusOptions } from './options.js'
import { createMetrics } from './metrics/metrics.js'
import { checkReady } from './ready.js'
import type { Upload } from './upload.js'
import type { Extension } from './protocol/constants.js'
import { isSupportedVersion } from './protocol/headers.js'
import { route } from './route.js'
import { isDraftRequest, serveDraft } from './drafts/index.js'
import { makeResumable, type ResumableOptions } from './drafts/resumable.js'
import { RouteRegistry } from './drafts/routes.js'
import { storeCan, type DataStore } from './stores/data-store.js'

const debug = createDebug('tus-middleware')

export type NextFunction = (err?: unknown) => void

export interface TusMiddleware extends TusEmitter {
  (req: IncomingMessage, res: ServerResponse, next?: NextFunction): void
  /** node:http2's compatibility API (http2.createServer / createSecureServer request handlers). */
  (req: Http2ServerRequest, res: Http2ServerResponse, next?: NextFunction): void
  /** The resolved store, for the host's own use (listing, reading). */
  readonly store: DataStore
  /**
   * Removes expired uploads now (spec: expiration) and resolves with them; each also fires `expired`.
   * Resolves with [] when `expireAfter` is not set. Runs by itself every `cleanupInterval` ms too.
   */
  cleanup(): Promise<Upload[]>
  /** Stops the background cleanup. The middleware keeps serving requests. */
  close(): void
  /**
   * Resolves when the store and the locker answer (the store's `ready()` if it has one, else a lookup of an
   * upload that does not exist; the locker's `ready()` if it has one); rejects with the failure otherwise.
   */
  ready(): Promise<void>
  /**
   * Upgrades an app's own upload route to a resumable upload (IETF draft; README: Protocols): put it in front
   * of the route, e.g. `app.post('/photos', uploads.resumable({ path: '/files' }), handler)`.
   */
  resumable(options?: ResumableOptions): (req: IncomingMessage, res: ServerResponse, next?: NextFunction) => void
}

/** Methods served on an upload URL, and on the collection URL. */
const UPLOAD_METHODS = new Set(['HEAD', 'PATCH', 'DELETE', 'GET', 'OPTIONS'])
const COLLECTION_METHODS = new Set(['POST', 'OPTIONS'])
const COLLECTION_ALLOW = 'POST, OPTIONS'
/** Methods a client may ask for with X-HTTP-Method-Override (spec: core, X-HTTP-Method-Override). */
const OVERRIDABLE = new Set([...UPLOAD_METHODS, ...COLLECTION_METHODS])

/** The methods an upload URL serves with this store: DELETE and GET only with the capabilities behind them. */
function uploadMethods(store: DataStore): Set<string> {
  const methods = new Set(['HEAD', 'PATCH'])
  if (storeCan(store, 'termination')) methods.add('DELETE')
  if (storeCan(store, 'read')) methods.add('GET')
  return methods.add('OPTIONS')
}

/**
 * A tus method this URL does not serve (PATCH on the collection, POST on an upload, DELETE without
 * termination): answered 405 with Allow, as a tus request. A GET of the collection URL is left to the app (a
 * listing of its own, say).
 */
const isMisplaced = (method: string, collection: boolean): boolean => OVERRIDABLE.has(method) && !(collection && method === 'GET')

/** Exactly the extensions this configuration serves (spec: core, Tus-Extension). */
function advertisedExtensions(options: ResolvedOptions): string {
  const { store } = options
  const list: Extension[] = ['creation', 'creation-with-upload', 'creation-defer-length']
  if (storeCan(store, 'termination')) list.push('termination')
  list.push('checksum')
  // A trailer checksum is hashed while the body streams, with every algorithm served.
  list.push('checksum-trailer')
  if (storeCan(store, 'concatenation')) list.push('concatenation', 'concatenation-unfinished')
  if (options.expireAfter !== undefined) list.push('expiration')
  return list.join(',')
}

export function tus<Req extends IncomingMessage = IncomingMessage>(input: TusOptions<Req> = {}): TusMiddleware {
  const resolved = normalizeOptions(input)
  const emitter = new EventEmitter()
  // With metrics on, the store and locker in `options` are wrapped to count; the host keeps its own objects.
  const metrics = createMetrics(resolved, emitter, () => server.receiving)
  const options = metrics ? metrics.instrument(resolved) : resolved
  const server: Server = { options, emitter, extensions: advertisedExtensions(options), receiving: 0, metrics, routes: new RouteRegistry() }
  const sweeper = startSweeper(server)
  const uploadServed = uploadMethods(options.store)
  const uploadAllow = [...uploadServed].join(', ')

  const tusMiddleware = function tusMiddleware(req: IncomingMessage, res: ServerResponse, next?: NextFunction): void {
    // OPTIONS * from a draft client asks for the server's limits (draft-6 §4.1.4 MUST, draft-7 §4.1.4 and
    // draft-11 §4.1.4 SHOULD where the server handles that target): answered as OPTIONS on the collection. It
    // reaches the middleware only when nothing routes by path before it (plain node:http, a mount at the root).
    const where = isDraftOptionsStar(req, options.drafts !== undefined) ? { base: '', id: undefined } : route(req, options.path)
    if (!where) return passOn(res, next)
    const override = req.headers['x-http-method-override']
    let method = req.method ?? 'GET'
    // Only on POST (as tusd does): a GET, which hosts and proxies treat as safe, never becomes a DELETE.
    if (override !== undefined && method === 'POST' && options.methodOverride) {
      const wanted = (Array.isArray(override) ? '' : override).trim().toUpperCase()
      method = OVERRIDABLE.has(wanted) ? wanted : ''
    }
    const collection = where.id === undefined
    const served = collection ? COLLECTION_METHODS : uploadServed
    if (method !== '' && !served.has(method) && !isMisplaced(method, collection)) return passOn(res, next)
    metrics?.request(method, res)
    if (options.cors) applyCors(options.cors, req, res, isPreflight(req, method))
    const ctx: Context = { server, options, req, res, base: where.base, id: where.id, method, events: [], after: [] }
    if (method !== '' && !served.has(method)) return misplaced(ctx, collection ? COLLECTION_ALLOW : uploadAllow, next)
    // A request naming an Upload-Draft-Interop-Version speaks the IETF draft (lib/drafts), when it is served.
    const handling = options.drafts && isDraftRequest(req.headers) ? serveDraft(ctx) : dispatch(ctx)
    handling.catch((err) => fail(ctx, err, next))
  }
  Object.defineProperty(tusMiddleware, 'store', { value: resolved.store, enumerable: true })
  Object.defineProperty(tusMiddleware, 'ready', { value: () => checkReady(resolved.store, resolved.locker) })
  Object.defineProperty(tusMiddleware, 'cleanup', { value: sweeper.run })
  Object.defineProperty(tusMiddleware, 'close', { value: sweeper.stop })
  Object.defineProperty(tusMiddleware, 'resumable', { value: (o?: ResumableOptions) => makeResumable(server, o) })
  return mixinEmitter(tusMiddleware, emitter) as unknown as TusMiddleware
}

async function dispatch(ctx: Context): Promise<void> {
  const { method, id, req } = ctx
  if (method === '') throw new TusError('INVALID_METHOD_OVERRIDE')
  if (method === 'OPTIONS') return handleOptions(ctx)
  // spec: core, Tus-Resumable: a request without a version we speak is not processed. GET is a plain
  // download, which browsers make without tus headers.
  if (method !== 'GET' && !isSupportedVersion(req.headers['tus-resumable'])) throw new TusError('UNSUPPORTED_VERSION')
  if (id === undefined) return handlePost(ctx)
  switch (method) {
    case 'HEAD':
      return handleHead(ctx, id)
    case 'PATCH':
      return handlePatch(ctx, id)
    case 'DELETE':
      return handleDelete(ctx, id)
    case 'GET':
      return handleGet(ctx, id)
  }
}

/**
 * Protocol errors are answered here with tus headers. Anything else (a failing store, a hook's plain Error)
 * gets a generic 500 — its message never reaches the client — and then goes to next(err) for the app to log.
 */
function fail(ctx: Context, err: unknown, next: NextFunction | undefined): void {
  const { req, res } = ctx
  const known = err instanceof TusError
  if (!known) debug('request failed: %s', (err as Error)?.stack ?? err)
  if (res.headersSent) {
    res.destroy()
  } else {
    // An unread body may still be arriving; closing the connection is the only way to not read it all.
    const headers = hasUnreadBody(req) ? { Connection: 'close' } : {}
    replyError(ctx, known ? err : new TusError('INTERNAL'), headers)
  }
  // After the response is out, so that the app's error handler sees headersSent and does not answer twice.
  if (!known && next) {
    if (res.closed) process.nextTick(next, err)
    else res.once('close', () => next(err))
  }
}

/** A tus method on the wrong kind of URL: 405 with the methods that URL serves. */
function misplaced(ctx: Context, allow: string, next: NextFunction | undefined): void {
  const headers = { Allow: allow, ...(hasUnreadBody(ctx.req) ? { Connection: 'close' } : {}) }
  try {
    replyError(ctx, new TusError('METHOD_NOT_ALLOWED'), headers)
  } catch (err) {
    fail(ctx, err, next)
  }
}

/** `OPTIONS *` carrying Upload-Draft-Interop-Version, with the draft served. A tus `OPTIONS *` is left as it was. */
const isDraftOptionsStar = (req: IncomingMessage, drafts: boolean): boolean =>
  drafts && req.url === '*' && req.method === 'OPTIONS' && isDraftRequest(req.headers)

function hasUnreadBody(req: IncomingMessage): boolean {
  return declaresBody(req, Number(req.headers['content-length'] ?? 0)) && !req.readableEnded
}

function passOn(res: ServerResponse, next: NextFunction | undefined): void {
  if (next) return next()
  // No router behind us (plain node:http): nobody else will answer.
  res.writeHead(404, { 'Content-Type': 'text/plain; charset=utf-8' })
  res.end(`${ERRORS.NOT_FOUND.message}\n`)
}
