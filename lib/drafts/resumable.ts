/**
 * `uploads.resumable()`: upgrades an app's own upload route to a resumable upload (draft-6 §7.1.1 "Upgrading
 * To Resumable Uploads"; draft-11 §9.1.1). A request to the route that carries Upload-Complete (and an
 * Upload-Draft-Interop-Version this server serves) becomes an upload resource: it is announced with a 104
 * pointing to the tus() collection, its body is stored, and once the upload is complete the route gets it on
 * `req.upload`. If the connection drops, the client resumes on the upload URL; the append that completes the
 * upload is then answered by the route (draft-6 §4.4.2, draft-11 §4.4.2: the final response comes from the
 * targeted resource), in whichever process serves it: the upload's record names the route (routes.ts).
 * Without those fields the route works as before.
 */
import createDebug from 'debug'
import type { IncomingMessage, ServerResponse } from 'node:http'
import { Readable } from 'node:stream'
import { flushEvents, reply, replyError, type Context, type Server } from '../context.js'
import { TusError } from '../errors.js'
import { admitUpload } from '../handlers/access.js'
import { replyAfterBody } from '../lifecycle/receive.js'
import { snapshot, type Upload, type UploadRoute } from '../upload.js'
import { booleanField } from './headers.js'
import { limitField } from './limits.js'
import { create, readCreation } from './post.js'
import { replyDraftError } from './problems.js'
import { defaultKey, findHandlers, handlersFrom, RESUMABLE, runHandlers, type FinishedUpload, type ResumableMark, type RouteHandler } from './routes.js'
import { chooseVersion, INTEROP_HEADER, isDraftRequest, type DraftFeatures } from './version.js'

const debug = createDebug('tus-middleware')

export interface ResumableOptions {
  /**
   * The path of the tus() upload collection, where upload URLs point (e.g. '/files' for
   * `app.use('/files', uploads)`). Default: the tus() `path` option; one of the two is required.
   */
  path?: string
  /**
   * The route's handler, for Connect and plain node:http. With Express, leave it out: the handlers that follow
   * resumable() on the route are used. It is registered under `name` when resumable() is called: every process
   * that may serve the upload URLs must make the same call at start-up.
   */
  handler?: RouteHandler
  /**
   * What identifies the route in the upload's record, so that another process (or this one after a restart)
   * finds it. Default with `handler`: 'handler'; with Express: the creating request's method, mount path
   * (`req.baseUrl`) and route path (`req.route.path`), e.g. 'POST /albums/:album/photos'.
   */
  name?: string
}

/** The default `name` of a `handler` route. */
const HANDLER_NAME = 'handler'

/** What an upgraded route finds on its request. */
export interface ResumableRequest extends IncomingMessage {
  /** The finished upload, when the request was upgraded to a resumable upload. */
  upload?: FinishedUpload
}

type Middleware = (req: IncomingMessage, res: ServerResponse, next?: (err?: unknown) => void) => void
type RoutedRequest = IncomingMessage & {
  route?: { path?: unknown; stack?: Array<{ handle?: unknown; method?: string }> }
  baseUrl?: string
  params?: Record<string, string>
  originalUrl?: string
  upload?: FinishedUpload
}

export function makeResumable(server: Server, input: ResumableOptions = {}): Middleware {
  if (input === null || typeof input !== 'object') throw new TypeError('resumable(): options must be an object')
  for (const key of Object.keys(input)) {
    if (key !== 'path' && key !== 'handler' && key !== 'name') throw new TypeError(`resumable(): option "${key}" is not known`)
  }
  const path = input.path ?? server.options.path
  if (typeof path !== 'string' || !/^\/[^?#]*$/.test(path)) {
    throw new TypeError('resumable(): option "path" (the tus() collection path, e.g. "/files") is required unless tus() has a "path" option')
  }
  if (input.handler !== undefined && typeof input.handler !== 'function') throw new TypeError('resumable(): option "handler" must be a function')
  if (input.name !== undefined && (typeof input.name !== 'string' || input.name === '')) throw new TypeError('resumable(): option "name" must be a non-empty string')
  const base = path.replace(/\/+$/, '')
  const { handler } = input
  const name = input.name ?? (handler ? HANDLER_NAME : undefined)
  // Known by name from the start, in every process that makes this call.
  if (handler) server.routes.register(name!, handler)

  const resumable: Middleware = function resumable(req, res, next = () => {}) {
    const features = upgradeable(server, req)
    if (!features) return next()
    const routed = req as RoutedRequest
    const ctx: Context = { server, options: server.options, req, res, base, id: undefined, method: req.method ?? 'POST', events: [], after: [], draft: features }
    const method = req.method ?? 'POST'
    let handlers: readonly RouteHandler[] = []
    let key = name
    if (!handler) {
      handlers = handlersAfter(routed, resumable)
      if (key === undefined && routed.route?.path !== undefined) key = defaultKey(method, routed.baseUrl ?? '', routed.route.path)
      if (key !== undefined) server.routes.remember(key, handlers)
    }
    const route: UploadRoute | undefined = key === undefined ? undefined : {
      key,
      method,
      url: routed.originalUrl ?? req.url ?? '/',
      ...(routed.params ? { params: { ...routed.params } } : {}),
    }
    upgrade(ctx, route, handler, next).catch((err) => failed(ctx, err, next))
  }
  Object.defineProperty(resumable, RESUMABLE, { value: { server, name } satisfies ResumableMark })
  return resumable
}

/** The request's draft version when it asks for a resumable upload this server serves; else undefined. */
function upgradeable(server: Server, req: IncomingMessage): DraftFeatures | undefined {
  const drafts = server.options.drafts
  if (!drafts || !isDraftRequest(req.headers) || req.headers['upload-complete'] === undefined) return undefined
  try {
    return chooseVersion(req.headers[INTEROP_HEADER], drafts.versions)
  } catch {
    return undefined // a version not served: the route answers it as a conventional upload
  }
}

async function upgrade(ctx: Context, route: UploadRoute | undefined, handler: RouteHandler | undefined, next: (err?: unknown) => void): Promise<void> {
  const creation = await readCreation(ctx, ctx.draft!)
  if (!creation) return next()
  const created = await admitUpload(ctx, () => create(ctx, creation, route))
  const { upload, location, reason, completed } = created
  const headers = { Location: location, 'Upload-Offset': upload.offset, 'Upload-Complete': booleanField(completed) }
  // Cut short (a dropped connection, a newer request taking over): the client resumes on the upload URL.
  if (reason !== 'end') return replyAfterBody(ctx, reason, 201, headers)
  if (!completed) {
    // draft-6 §4.2.2: with Upload-Complete: ?0 the server MUST answer with Location (201 RECOMMENDED), and
    // Upload-Limit (draft-7 §4.2.2, draft-11 §4.2.2: MUST where limits exist).
    return reply(ctx, 201, { ...headers, 'Upload-Limit': await limitField(ctx, upload) })
  }
  // The whole upload came in this request: the route processes it (draft-6 §4.2.2).
  flushEvents(ctx)
  attach(ctx, upload, route)
  if (handler) runHandlers([handler], ctx.req, ctx.res, next)
  else next()
}

/**
 * The append that completed upload `upload` is answered by the route that created it, when its record names
 * one and this process finds its handlers (registered by name, or in the Express app serving the request);
 * false otherwise (the collection answers it).
 */
export function answerByRoute(ctx: Context, upload: Upload): boolean {
  const route = upload.route
  if (!route) return false
  const handlers = findHandlers(ctx.server, ctx.req, route)
  if (!handlers || handlers.length === 0) return false
  flushEvents(ctx)
  const { req, res } = ctx
  // draft-6 §4.4.2, draft-11 §4.4.2: the response to the completing append MUST include Upload-Complete: ?1.
  res.setHeader('Upload-Complete', '?1')
  attach(ctx, upload, route)
  runHandlers(handlers, req, res, (err) => {
    if (err !== undefined) return failed(ctx, err, undefined)
    // A route that did not answer: the collection's answer.
    if (!res.headersSent) reply(ctx, 201, { 'Upload-Offset': upload.offset, 'Upload-Complete': '?1' })
  })
  return true
}

/** Puts the finished upload (and the route's parameters) on the request. */
function attach(ctx: Context, upload: Upload, route: UploadRoute | undefined): void {
  const req = ctx.req as RoutedRequest & { resumable?: { method: string; url: string } }
  const { store } = ctx.options
  const frozen = snapshot(upload)
  const stream = async (): Promise<Readable> => {
    if (frozen.offset === 0) return Readable.from([])
    if (!store.read) throw new TusError('METHOD_NOT_ALLOWED', 'The store cannot read uploads back', 405)
    return store.read(frozen.id)
  }
  const read = async (): Promise<Buffer> => {
    const chunks: Buffer[] = []
    for await (const chunk of await stream()) chunks.push(chunk as Buffer)
    return Buffer.concat(chunks)
  }
  req.upload = Object.freeze({ ...frozen, read, stream }) as FinishedUpload
  if (route?.params !== undefined) req.params = { ...route.params }
  req.resumable = route ? { method: route.method, url: route.url } : { method: req.method ?? 'POST', url: req.originalUrl ?? req.url ?? '/' }
}

/** Express: the handlers after this middleware on the current route, for this method. */
function handlersAfter(req: RoutedRequest, self: unknown): RouteHandler[] {
  const stack = req.route?.stack
  if (!Array.isArray(stack)) return []
  const at = stack.findIndex((layer) => layer.handle === self)
  if (at === -1) return []
  return handlersFrom(stack, at + 1, (req.method ?? '').toLowerCase())
}

function failed(ctx: Context, err: unknown, next: ((err?: unknown) => void) | undefined): void {
  const { res } = ctx
  if (err instanceof TusError) return replyDraftError(ctx, err)
  debug('upgraded upload failed: %s', (err as Error)?.stack ?? err)
  if (res.headersSent) res.destroy()
  else replyError(ctx, new TusError('INTERNAL'), { Connection: 'close' })
  if (next) {
    if (res.closed) process.nextTick(next, err)
    else res.once('close', () => next(err))
  }
}
