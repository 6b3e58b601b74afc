/**
 * Options: their types, defaults, and normalizeOptions(), which validates once at factory time and returns a
 * frozen copy (the caller's object is never touched). A bad option is a TypeError that names it.
 */
import type { IncomingMessage } from 'node:http'
import type { Locker } from './locks/locker.js'
import { MemoryLocker } from './locks/memory-locker.js'
import { normalizeCors, type CorsOptions, type ResolvedCors } from './cors-options.js'
import type { Metadata } from './protocol/metadata.js'
import { assertStore, storeCan, type DataStore } from './stores/data-store.js'
import { FileStore } from './stores/file-store.js'
import type { Upload } from './upload.js'
import { optionError } from './errors.js'
import type { MetricsRegistry } from './metrics/metrics.js'
import { DRAFT_VERSIONS, type DraftVersion } from './drafts/version.js'

/** What a request wants to do with an existing upload; 'concatenate': name it as a part of a final upload. */
export type Action = 'head' | 'patch' | 'get' | 'delete' | 'concatenate'

export interface CreateResult {
  /** Use this id instead of a generated one (validated: URL-safe, at most 128 characters). */
  id?: string
  /** Replace the metadata the client sent. */
  metadata?: Metadata
}

export interface TusOptions<Req extends IncomingMessage = IncomingMessage> {
  /** Where uploads live. Default: `new FileStore({ directory: './uploads' })`. */
  store?: DataStore
  /** Mount path, only for a server without a router (plain node:http). With Express/Connect, omit it. */
  path?: string
  /** Largest upload in bytes, or a function of the request. Default: no limit. */
  maxSize?: number | ((req: Req) => number | Promise<number>)
  /** Largest Upload-Metadata header in bytes. Default: 4096. */
  maxMetadataSize?: number
  /** Least milliseconds between two `progress` events for one upload. Default: 1000. */
  progressInterval?: number
  /** Milliseconds a request waits for another request on the same upload to let go. Default: 5000. */
  lockTimeout?: number
  /** Milliseconds without a body byte before a PATCH is ended (bytes received are kept). Default: 60000. */
  bodyIdleTimeout?: number
  /** Serialises requests on one upload. Default: an in-process MemoryLocker. */
  locker?: Locker
  /** Answer with a path-only Location instead of an absolute URL. Default: false. */
  relativeLocation?: boolean
  /**
   * Milliseconds without a stored byte after which an unfinished upload expires (spec: expiration): it then
   * answers 410 and is removed. Needs a store with the expiration and termination capabilities. Default: never.
   */
  expireAfter?: number
  /** Let finished uploads expire too, `expireAfter` ms after their last byte. Default: false. */
  expireCompleted?: boolean
  /**
   * Milliseconds between two background cleanups of expired uploads; 0 turns them off (call
   * `uploads.cleanup()` yourself). Default: expireAfter, at least 1 s and at most 1 h.
   */
  cleanupInterval?: number
  /**
   * Build the absolute Location from `Forwarded` / `X-Forwarded-Proto` / `X-Forwarded-Host`. Only set it when a
   * proxy you control sets (and overwrites) those headers. Default: follow Express's `trust proxy` setting when
   * the app has one, otherwise false.
   */
  trustProxy?: boolean
  /**
   * Most requests receiving upload bytes (PATCH, POST with a body) at once in this process; more get 503
   * TOO_MANY_UPLOADS with Retry-After. Default: 256.
   */
  maxConcurrentUploads?: number
  /**
   * Most partial uploads one final upload may name (spec: concatenation); each may be named once. Default: 100.
   */
  maxConcatParts?: number
  /**
   * Honour X-HTTP-Method-Override on POST requests (spec: core), for clients that can only send GET and POST.
   * The method it names is what the middleware serves, so a guard on the app's own `app.delete(...)` route
   * does not see it: put method-specific rules in `authorize`, whose `action` is the method served.
   * Default: true.
   */
  methodOverride?: boolean
  /** Cross-origin access for browser clients, or false. Default: false (no CORS headers; same-origin only). */
  cors?: CorsOptions | false
  /**
   * A prom-client Registry to register the tus_* metrics on (README: Metrics). Needs the optional peer
   * dependency prom-client. Default: no metrics.
   */
  metrics?: MetricsRegistry
  /**
   * Serve the IETF "Resumable Uploads for HTTP" draft beside tus 1.0, on the same URLs (README: Protocols):
   * true (every interop version, 3 to 8), false, a list of versions, or an object with `versions` and the
   * append limits announced in Upload-Limit and enforced on draft appends. Default: true.
   */
  resumableDrafts?: boolean | readonly number[] | ResumableDraftOptions
  /** Awaited before an upload is created; may refuse (throw TusError) or choose its id and metadata. */
  onCreate?: (upload: Readonly<Upload>, req: Req) => void | CreateResult | Promise<void | CreateResult>
  /** Awaited on every request on an existing upload; refuse by throwing TusError. */
  authorize?: (upload: Readonly<Upload>, req: Req, action: Action) => void | Promise<void>
  /** Awaited when the last byte is stored, before the final response; throwing TusError refuses completion. */
  onComplete?: (upload: Readonly<Upload>, req: Req) => void | Promise<void>
}

export interface ResumableDraftOptions {
  /** Interop versions served. Default: all (3, 4, 5, 6, 7, 8). */
  versions?: readonly number[]
  /** Largest body of one draft append (Upload-Limit max-append-size); larger ones get 413. Default: none. */
  maxAppendSize?: number
  /**
   * Smallest body of one draft append that does not complete the upload (Upload-Limit min-append-size);
   * smaller ones get 400. Default: none.
   */
  minAppendSize?: number
}

export interface ResolvedDrafts {
  readonly versions: readonly DraftVersion[]
  readonly maxAppendSize: number | undefined
  readonly minAppendSize: number | undefined
}

export interface ResolvedOptions {
  readonly store: DataStore
  readonly path: string | undefined
  readonly maxSize: (req: IncomingMessage) => number | Promise<number>
  /** The fixed maximum, advertised as Tus-Max-Size; undefined when it depends on the request or is unlimited. */
  readonly fixedMaxSize: number | undefined
  readonly maxMetadataSize: number
  readonly progressInterval: number
  readonly lockTimeout: number
  readonly bodyIdleTimeout: number
  readonly locker: Locker
  readonly relativeLocation: boolean
  readonly expireAfter: number | undefined
  readonly expireCompleted: boolean
  readonly cleanupInterval: number
  /** undefined: follow the app's (Express) trust proxy setting. */
  readonly trustProxy: boolean | undefined
  readonly maxConcurrentUploads: number
  readonly maxConcatParts: number
  readonly methodOverride: boolean
  readonly cors: ResolvedCors | undefined
  readonly metrics: MetricsRegistry | undefined
  /** The draft versions served and their limits; undefined when the drafts are turned off. */
  readonly drafts: ResolvedDrafts | undefined
  readonly onCreate: TusOptions['onCreate']
  readonly authorize: TusOptions['authorize']
  readonly onComplete: TusOptions['onComplete']
}

const KNOWN = new Set([
  'store', 'path', 'maxSize', 'maxMetadataSize', 'progressInterval', 'lockTimeout', 'bodyIdleTimeout', 'locker',
  'relativeLocation', 'onCreate', 'authorize', 'onComplete', 'expireAfter', 'expireCompleted', 'cleanupInterval',
  'trustProxy', 'maxConcurrentUploads', 'maxConcatParts', 'methodOverride', 'cors', 'metrics',
  'resumableDrafts',
])

function drafts(value: unknown): ResolvedDrafts | undefined {
  const what = 'true, false, a list of interop versions (3 to 8), or { versions, maxAppendSize, minAppendSize }'
  if (value === false) return undefined
  if (value === undefined || value === true) return Object.freeze({ versions: DRAFT_VERSIONS, maxAppendSize: undefined, minAppendSize: undefined })
  const object = Array.isArray(value) ? { versions: value } : value
  if (object === null || typeof object !== 'object') return fail('resumableDrafts', what)
  const o = object as Record<string, unknown>
  for (const key of Object.keys(o)) {
    if (!['versions', 'maxAppendSize', 'minAppendSize'].includes(key)) fail('resumableDrafts', what)
  }
  let versions: readonly DraftVersion[] = DRAFT_VERSIONS
  if (o.versions !== undefined) {
    if (!Array.isArray(o.versions) || o.versions.length === 0) fail('resumableDrafts', what)
    for (const v of o.versions as unknown[]) {
      if (!(DRAFT_VERSIONS as readonly unknown[]).includes(v)) fail('resumableDrafts', `${what}; ${String(v)} is not one`)
    }
    versions = Object.freeze([...new Set(o.versions as DraftVersion[])].sort())
  }
  const size = (name: string): number | undefined => {
    const n = o[name]
    if (n === undefined) return undefined
    if (typeof n !== 'number' || !Number.isSafeInteger(n) || n < 0) fail(`resumableDrafts.${name}`, 'an integer >= 0')
    return n as number
  }
  const maxAppendSize = size('maxAppendSize')
  const minAppendSize = size('minAppendSize')
  if (maxAppendSize !== undefined && minAppendSize !== undefined && minAppendSize > maxAppendSize) {
    fail('resumableDrafts.minAppendSize', 'at most maxAppendSize')
  }
  return Object.freeze({ versions, maxAppendSize, minAppendSize })
}

function bool(options: Record<string, unknown>, name: string): boolean {
  const value = options[name]
  if (value !== undefined && typeof value !== 'boolean') fail(name, 'a boolean')
  return (value as boolean | undefined) ?? false
}

const fail = optionError

function count(options: Record<string, unknown>, name: string, fallback: number, min = 0): number {
  const value = options[name]
  if (value === undefined) return fallback
  if (typeof value !== 'number' || !Number.isSafeInteger(value) || value < min) {
    return fail(name, `an integer >= ${min}`)
  }
  return value
}

function fn<T>(options: Record<string, unknown>, name: string): T | undefined {
  const value = options[name]
  if (value !== undefined && typeof value !== 'function') fail(name, 'a function')
  return value as T | undefined
}

export function normalizeOptions(input: TusOptions<any> = {}): ResolvedOptions {
  if (input === null || typeof input !== 'object') throw new TypeError('tus(): options must be an object')
  const options = input as Record<string, unknown>
  for (const key of Object.keys(options)) {
    if (!KNOWN.has(key)) throw new TypeError(`tus(): option "${key}" is not known`)
  }

  const store = (options.store ?? new FileStore({ directory: './uploads' })) as DataStore
  assertStore(store)

  let path: string | undefined
  if (options.path !== undefined) {
    if (typeof options.path !== 'string' || !/^\/[^?#]*$/.test(options.path)) fail('path', 'a string starting with "/"')
    path = (options.path as string).replace(/\/+$/, '')
  }

  let maxSize: ResolvedOptions['maxSize']
  let fixedMaxSize: number | undefined
  const rawMax = options.maxSize
  if (rawMax === undefined) {
    maxSize = () => Number.MAX_SAFE_INTEGER
  } else if (typeof rawMax === 'function') {
    maxSize = rawMax as ResolvedOptions['maxSize']
  } else {
    fixedMaxSize = count(options, 'maxSize', 0)
    maxSize = () => fixedMaxSize as number
  }

  const locker = (options.locker ?? new MemoryLocker()) as Locker
  if (typeof locker?.lock !== 'function') fail('locker', 'a Locker (an object with a lock() method)')
  const expireAfter = options.expireAfter === undefined ? undefined : count(options, 'expireAfter', 0, 1)
  if (expireAfter !== undefined && !(storeCan(store, 'expiration') && storeCan(store, 'termination'))) {
    fail('expireAfter', 'left out: the store lacks the expiration and termination capabilities it needs')
  }
  if (options.trustProxy !== undefined && typeof options.trustProxy !== 'boolean') fail('trustProxy', 'a boolean')
  const metrics = options.metrics as MetricsRegistry | undefined
  if (metrics !== undefined && typeof metrics?.registerMetric !== 'function') fail('metrics', 'a prom-client Registry')

  return Object.freeze({
    store,
    path,
    maxSize,
    fixedMaxSize,
    maxMetadataSize: count(options, 'maxMetadataSize', 4096),
    progressInterval: count(options, 'progressInterval', 1000),
    lockTimeout: count(options, 'lockTimeout', 5000, 1),
    bodyIdleTimeout: count(options, 'bodyIdleTimeout', 60_000),
    locker,
    relativeLocation: bool(options, 'relativeLocation'),
    expireAfter,
    expireCompleted: bool(options, 'expireCompleted'),
    cleanupInterval: count(options, 'cleanupInterval', Math.min(Math.max(expireAfter ?? 0, 1000), 3_600_000)),
    trustProxy: options.trustProxy as boolean | undefined,
    maxConcurrentUploads: count(options, 'maxConcurrentUploads', 256, 1),
    maxConcatParts: count(options, 'maxConcatParts', 100, 1),
    methodOverride: options.methodOverride === undefined ? true : bool(options, 'methodOverride'),
    cors: normalizeCors(options.cors),
    metrics,
    drafts: drafts(options.resumableDrafts),
    onCreate: fn<ResolvedOptions['onCreate']>(options, 'onCreate'),
    authorize: fn<ResolvedOptions['authorize']>(options, 'authorize'),
    onComplete: fn<ResolvedOptions['onComplete']>(options, 'onComplete'),
  })
}
