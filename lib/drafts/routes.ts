/**
 * Routes upgraded by `uploads.resumable()`. A draft upload created on an app's own route may be finished by an
 * append on its upload URL, and the final response is then the route's (draft-6 §4.3.2, draft-11 §4.4.2: the
 * response to the completing append is what the targeted resource would have answered). The route is
 * remembered here, in this process, by upload id, until its upload completes, is deleted or expires.
 */
import type { IncomingMessage, ServerResponse } from 'node:http'
import type { Readable } from 'node:stream'
import type { Upload } from '../upload.js'

/** The finished upload, as a route sees it on `req.upload`. */
export interface FinishedUpload extends Readonly<Upload> {
  /** All of its bytes. */
  read(): Promise<Buffer>
  /** Its bytes as a stream. */
  stream(): Promise<Readable>
}

export type RouteHandler = (req: IncomingMessage, res: ServerResponse, next: (err?: unknown) => void) => unknown

export interface UpgradedRoute {
  /** The handlers that follow resumable() on the route (Express), or the `handler` option. */
  readonly handlers: readonly RouteHandler[]
  /** Express's route parameters of the creating request, given back to the route. */
  readonly params: Record<string, string> | undefined
  /** The creating request's method and URL, for the route's information (`req.resumable`). */
  readonly method: string
  readonly url: string
}

/** Most routes remembered at once; the oldest is forgotten first (its upload then answers as the collection does). */
const MAX_ROUTES = 10_000

export class DraftRoutes {
  private readonly map = new Map<string, UpgradedRoute>()

  set(id: string, route: UpgradedRoute): void {
    this.map.delete(id)
    this.map.set(id, route)
    if (this.map.size > MAX_ROUTES) this.map.delete(this.map.keys().next().value as string)
  }

  get(id: string): UpgradedRoute | undefined {
    return this.map.get(id)
  }

  delete(id: string): void {
    this.map.delete(id)
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
