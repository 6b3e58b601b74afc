/**
 * Routes upgraded by `uploads.resumable()`. A draft upload created on an app's own route may be finished by an
 * append on its upload URL, and the final response is then the route's (draft-6 §4.4.2, draft-11 §4.4.2: the
 * response to the completing append is what the targeted resource would have answered). That append may reach
 * another process, or this one after a restart, so what identifies the route is kept in the upload's record
 * (Upload.route); each process finds the handlers from it: those registered by name (the `handler` option), or
 * the Express route whose stack holds a resumable() middleware with that key. What is found is cached here.
 */
import type { IncomingMessage, ServerResponse } from 'node:http'
import type { Readable } from 'node:stream'
import type { Server } from '../context.js'
import type { Upload, UploadRoute } from '../upload.js'

/** The finished upload, as a route sees it on `req.upload`. */
export interface FinishedUpload extends Readonly<Upload> {
  /** All of its bytes. */
  read(): Promise<Buffer>
  /** Its bytes as a stream. */
  stream(): Promise<Readable>
}

export type RouteHandler = (req: IncomingMessage, res: ServerResponse, next: (err?: unknown) => void) => unknown

/** Marks a resumable() middleware, so that a walk of an Express router can recognise it. */
export const RESUMABLE = Symbol.for('tus-middleware.resumable')

/** What a resumable() middleware carries under RESUMABLE. */
export interface ResumableMark {
  readonly server: Server
  /** The `name` option; undefined: the key is made from each request's route (defaultKey). */
  readonly name: string | undefined
}

/** The key of an unnamed route: the creating request's method, the router's mount path and the route's path. */
export const defaultKey = (method: string, baseUrl: string, routePath: unknown): string =>
  `${method.toUpperCase()} ${baseUrl}${String(routePath)}`

/** Most Express routes cached at once; the oldest is forgotten first (and found again by a walk). */
const MAX_CACHED = 1000

export class RouteRegistry {
  /** Handlers given with `resumable({ name, handler })`, by name: the only way another process knows them. */
  private readonly named = new Map<string, RouteHandler>()
  /** Express handlers found before, by key: an optimisation only. */
  private readonly cache = new Map<string, readonly RouteHandler[]>()

  /** Registers a `handler` under `name`; another handler under a name already taken is refused. */
  register(name: string, handler: RouteHandler): void {
    const known = this.named.get(name)
    if (known !== undefined && known !== handler) {
      throw new TypeError(`resumable(): name ${JSON.stringify(name)} is taken by another handler; give each upgraded route its own name`)
    }
    this.named.set(name, handler)
  }

  remember(key: string, handlers: readonly RouteHandler[]): void {
    if (this.named.has(key) || handlers.length === 0) return
    this.cache.delete(key)
    this.cache.set(key, handlers)
    if (this.cache.size > MAX_CACHED) this.cache.delete(this.cache.keys().next().value as string)
  }

  known(key: string): readonly RouteHandler[] | undefined {
    const handler = this.named.get(key)
    return handler ? [handler] : this.cache.get(key)
  }
}

interface Layer {
  handle?: unknown
  method?: string
  route?: { path?: unknown; stack?: Layer[] }
  path?: unknown
  match?: (path: string) => unknown
}

type ExpressApp = { _router?: { stack?: Layer[] }; router?: { stack?: Layer[] } }

/**
 * The handlers of the route `route` names, in this process: registered or cached ones, else those found by
 * walking the Express app that serves `req`. Undefined when there are none (the collection answers then).
 */
export function findHandlers(server: Server, req: IncomingMessage, route: UploadRoute): readonly RouteHandler[] | undefined {
  const known = server.routes.known(route.key)
  if (known) return known
  const stack = appStack((req as { app?: ExpressApp }).app)
  if (!stack) return undefined
  const path = pathOf(route.url)
  const found = walk(server, route, stack, path, '', new Set())
  if (found && found.length > 0) server.routes.remember(route.key, found)
  return found
}

/** The app's router stack: `app._router` in Express 4, `app.router` in Express 5 (a getter that throws in 4). */
function appStack(app: ExpressApp | undefined): Layer[] | undefined {
  if (!app || (typeof app !== 'function' && typeof app !== 'object')) return undefined
  try {
    const stack = app._router?.stack ?? app.router?.stack
    return Array.isArray(stack) ? stack : undefined
  } catch {
    return undefined
  }
}

const pathOf = (url: string): string => {
  const q = url.search(/[?#]/)
  return q === -1 ? url : url.slice(0, q)
}

/**
 * Looks through `stack` (and the routers mounted in it) for the route holding a resumable() middleware of this
 * server with the key `route.key`. `path` is what is left of the creating request's path below `base` (the
 * mount path matched so far), as Express would have routed it; under a mount that does not match it, only
 * named middlewares can be recognised (`base` undefined).
 */
function walk(server: Server, route: UploadRoute, stack: Layer[], path: string | undefined, base: string | undefined, seen: Set<unknown>): RouteHandler[] | undefined {
  if (seen.has(stack)) return undefined
  seen.add(stack)
  for (const layer of stack) {
    if (layer.route && Array.isArray(layer.route.stack)) {
      const found = inRoute(server, route, layer.route, base)
      if (found) return found
      continue
    }
    const inner = (layer.handle as { stack?: unknown } | undefined)?.stack
    if (!Array.isArray(inner)) continue
    const matched = path !== undefined && base !== undefined ? matchedPath(layer, path) : undefined
    const found = matched === undefined
      ? walk(server, route, inner, undefined, undefined, seen)
      : walk(server, route, inner, path!.slice(matched.length) || '/', base + matched, seen)
    if (found) return found
  }
  return undefined
}

function inRoute(server: Server, route: UploadRoute, expressRoute: { path?: unknown; stack?: Layer[] }, base: string | undefined): RouteHandler[] | undefined {
  const stack = expressRoute.stack!
  const method = route.method.toLowerCase()
  for (let i = 0; i < stack.length; i++) {
    const layer = stack[i]
    const mark = (layer.handle as { [RESUMABLE]?: ResumableMark } | undefined)?.[RESUMABLE]
    if (!mark || mark.server !== server) continue
    if (layer.method !== undefined && layer.method !== method) continue
    const key = mark.name ?? (base !== undefined ? defaultKey(route.method, base, expressRoute.path) : undefined)
    if (key === route.key) return handlersFrom(stack, i + 1, method)
  }
  return undefined
}

/** Express: the handlers on a route from `at` on, for this method. */
export function handlersFrom(stack: Layer[], at: number, method: string): RouteHandler[] {
  return stack
    .slice(at)
    .filter((layer) => typeof layer.handle === 'function' && (layer.method === undefined || layer.method === method))
    .map((layer) => layer.handle as RouteHandler)
}

/** The part of `path` a mounted router's layer matches ('' for one mounted at the root); undefined if none. */
function matchedPath(layer: Layer, path: string): string | undefined {
  if (typeof layer.match !== 'function') return undefined
  try {
    // router 2.3 returns { path }; Express 4 and router 2.2 return a boolean and set layer.path.
    const m = layer.match(path) as boolean | { path?: unknown }
    if (!m) return undefined
    const matched = typeof m === 'object' ? m.path : layer.path
    return typeof matched === 'string' ? matched : undefined
  } catch {
    return undefined
  }
}

/**
 * Runs `handlers` one after the other as Express would (next(), next(err), error handlers of four arguments,
 * rejected promises), then calls `done` with what is left over.
 */
export function runHandlers(handlers: readonly RouteHandler[], req: IncomingMessage, res: ServerResponse, done: (err?: unknown) => void): void {
  const step = (i: number, err: unknown): void => {
    if (i >= handlers.length) return done(err)
    const handler = handlers[i] as (...args: unknown[]) => unknown
    let called = false
    const next = (e?: unknown): void => {
      if (called) return
      called = true
      step(i + 1, e === 'route' || e === 'router' ? undefined : e)
    }
    try {
      const result = err === undefined
        ? handler.length >= 4 ? (next(), undefined) : handler(req, res, next)
        : handler.length >= 4 ? handler(err, req, res, next) : (next(err), undefined)
      if (result && typeof (result as Promise<unknown>).then === 'function') (result as Promise<unknown>).then(undefined, (e) => next(e ?? new Error('route handler rejected')))
    } catch (e) {
      next(e)
    }
  }
  step(0, undefined)
}
