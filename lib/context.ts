/**
 * Per-request state shared by the handlers, and the one way a response is written.
 */
import type { EventEmitter } from 'node:events'
import type { IncomingMessage, ServerResponse } from 'node:http'
import createDebug from 'debug'
import type { BodyReader } from './body.js'
import type { DraftFeatures } from './drafts/version.js'
import type { RouteRegistry } from './drafts/routes.js'
import type { Lock } from './locks/locker.js'
import { ERRORS, TusError } from './errors.js'
import { safeEmit } from './events.js'
import type { Metrics } from './metrics/metrics.js'
import type { ResolvedOptions } from './options.js'
import { TUS_VERSION } from './protocol/constants.js'
import { snapshot, type Upload } from './upload.js'

export interface Server {
  readonly options: ResolvedOptions
  readonly emitter: EventEmitter
  /** The Tus-Extension value, computed once. */
  readonly extensions: string
  /** Requests receiving upload bytes right now (bounded by maxConcurrentUploads). */
  receiving: number
  /** Prometheus metrics (option `metrics`), or undefined. */
  readonly metrics?: Metrics
  /** Handlers of routes upgraded by `resumable()`: registered by name, or found in the Express app and cached. */
  readonly routes: RouteRegistry
}

export interface Context {
  readonly server: Server
  readonly options: ResolvedOptions
  readonly req: IncomingMessage
  readonly res: ServerResponse
  /** Mount path of the upload collection, without a trailing slash ('' at the root). */
  readonly base: string
  /** The upload id from the URL, or undefined for the collection URL. */
  readonly id: string | undefined
  /** The request's method after X-HTTP-Method-Override. */
  readonly method: string
  /**
   * Set when the request speaks a Resumable Uploads for HTTP draft (Upload-Draft-Interop-Version): what its
   * version asks of a server. Responses to it carry no Tus-Resumable.
   */
  draft?: DraftFeatures
  /**
   * The request names an Upload-Draft-Interop-Version, served or not: its responses carry no Tus-Resumable
   * (nor Tus-Version), even when the version is refused and `draft` stays unset.
   */
  draftRequest?: boolean
  /** The body being read, so that a lock takeover can ask it to stop. */
  reader?: BodyReader
  /** Another request asked for this one's lock before its body was being read: read none of it. */
  releaseRequested?: boolean
  /** The lock this request holds on its upload, while it holds one. */
  lock?: Lock
  /** Events held back until the response has been written. */
  readonly events: Array<() => void>
  /**
   * Work that follows from this request but must not hold up its response (assembling a final upload). Each
   * task runs after the response, on a context of its own: it holds its own locks and sends its own events.
   */
  readonly after: Array<(ctx: Context) => Promise<unknown>>
}

const debug = createDebug('tus-middleware')

/** Reason phrases for the statuses Node does not know (spec: checksum). */
const REASON_PHRASES: Record<number, string> = { 460: 'Checksum Mismatch' }

/** Seconds a client is asked to wait before retrying a 503. */
const RETRY_AFTER_SECONDS = 1

export type Headers = Record<string, string | number | undefined>

type UploadEvent = 'created' | 'progress' | 'completed' | 'terminated'

/**
 * Holds an event about `upload` until the response is out (notifications never delay or break a request), and
 * counts it then for the metrics. Listeners get a frozen copy as the upload is now; with no listener, nothing is
 * copied (the metrics count without one).
 */
export function emitLater(ctx: Context, event: UploadEvent, upload: Upload): void {
  const { emitter, metrics } = ctx.server
  if (emitter.listenerCount(event) === 0) {
    if (metrics && event !== 'progress') ctx.events.push(() => metrics.event(event))
    return
  }
  const frozen = snapshot(upload)
  ctx.events.push(() => {
    metrics?.event(event)
    safeEmit(emitter, event, frozen)
  })
}

/** Whether the request speaks the IETF draft (a version served or not) rather than tus. */
const isDraft = (ctx: Context): boolean => ctx.draft !== undefined || ctx.draftRequest === true

/**
 * Writes the response, with Tus-Resumable for a tus request (spec: core, Tus-Resumable; a draft request gets
 * none), then releases held events. A body is text/plain unless `headers` names its Content-Type.
 */
export function reply(ctx: Context, status: number, headers: Headers = {}, body?: string): void {
  const { res } = ctx
  if (!res.headersSent && !res.writableEnded) {
    const out: Record<string, string | number> = isDraft(ctx) ? {} : { 'Tus-Resumable': TUS_VERSION }
    for (const key of Object.keys(headers)) {
      const value = headers[key]
      if (value !== undefined) out[key] = value
    }
    // HTTP/2 has no connection-specific headers (RFC 9113, 8.2.2): a stream ends on its own.
    if (ctx.req.httpVersionMajor >= 2) delete out.Connection
    if (body !== undefined) {
      out['Content-Type'] ??= 'text/plain; charset=utf-8'
      out['Content-Length'] = Buffer.byteLength(body)
    } else if (status !== 204 && status !== 304 && ctx.req.method !== 'HEAD') {
      out['Content-Length'] = 0
    }
    const phrase = ctx.req.httpVersionMajor < 2 ? REASON_PHRASES[status] : undefined
    if (phrase) res.writeHead(status, phrase, out)
    else res.writeHead(status, out)
    res.end(body)
  }
  flushEvents(ctx)
}

export function flushEvents(ctx: Context): void {
  const events = ctx.events.splice(0)
  for (const emit of events) emit()
  for (const task of ctx.after.splice(0)) {
    const detached: Context = { ...ctx, lock: undefined, reader: undefined, events: [], after: [] }
    task(detached).catch((err) => debug('background work after a request failed: %s', (err as Error)?.message ?? err))
  }
}

/** Answers a TusError with its status and message (or another body, e.g. a draft's problem document). */
export function replyError(ctx: Context, err: TusError, headers: Headers = {}, doc?: { contentType: string; body: string }): void {
  const extra: Headers = { ...headers }
  if (err.status === 412 && !isDraft(ctx)) extra['Tus-Version'] = TUS_VERSION
  // An overloaded server (TOO_MANY_UPLOADS, or a hook's own 503) says when to come back.
  if (err.status === 503 && extra['Retry-After'] === undefined) extra['Retry-After'] = RETRY_AFTER_SECONDS
  if (doc) return reply(ctx, err.status, { ...extra, 'Content-Type': doc.contentType }, doc.body)
  reply(ctx, err.status, extra, `${err.expose ? err.message : ERRORS.INTERNAL.message}\n`)
}
