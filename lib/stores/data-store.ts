/**
 * What the middleware needs from storage. An interface, not a base class: a store implements the core
 * methods, lists the optional capabilities it has, and the factory refuses a store that lists a capability
 * without the methods behind it (see assertStore).
 *
 * The contract speaks in what a local file, an object store with immutable parts and memory can all do:
 * append at the offset; stage bytes that are not verified yet, then commit or discard them as a whole; finish
 * an upload; read, remove, concatenate; find uploads idle since a date. Nothing is ever cut back once it
 * counted in an offset. Every piece of state another process needs is in the store: two processes (or
 * machines) serving one store read the same uploads, the same staged writes and the same links of finals to
 * their parts. The middleware serialises requests on one upload with its Locker; a store need not.
 */
import type { Readable } from 'node:stream'
import type { NewUpload, Upload } from '../upload.js'

/** Optional store capabilities and the methods each one needs. */
export const CAPABILITY_METHODS = {
  /** DELETE (spec: termination). */
  termination: ['remove'],
  /** GET of an upload's bytes. */
  read: ['read'],
  /** Final uploads (spec: concatenation). */
  concatenation: ['concatenate', 'link', 'linked'],
  /** Finding idle uploads, so that expired ones can be removed (spec: expiration). */
  expiration: ['idle'],
} as const
export type StoreCapability = keyof typeof CAPABILITY_METHODS

/** Fields the middleware may change after creation. */
export interface UploadChanges {
  length?: number
  completedAt?: string
  metadata?: Upload['metadata']
}

export interface ByteRange {
  /** First byte, inclusive. */
  start: number
  /** Last byte, inclusive. */
  end: number
}

export interface WriteOptions {
  /**
   * Stage the bytes: the request may still refuse them (a checksum not checked yet, a body that may run past
   * the length). Staged bytes never count in the offset — for this process, another one, or after a crash —
   * until `commit(id, offset)`; `discard(id, offset)` drops them. A store finds a stage that a dead writer
   * left and drops it when the next write starts at the offset that stands.
   */
  staged?: boolean
  /**
   * Aborted when the writer lost its lock (another request or process may now own the upload): stop at once,
   * writing nothing more, and reject.
   */
  signal?: AbortSignal
  /** The lock's fencing token, when the locker gives one; a store that keeps it may refuse an older one. */
  fence?: number
}

/**
 * The body handed to `write` is also one of these: a store may take every chunk already received in one call
 * (to write them with one writev) between the chunks it iterates.
 */
export interface BufferedBody extends AsyncIterable<Buffer> {
  takeBuffered(): Buffer[]
}

export const isBufferedBody = (body: AsyncIterable<Buffer>): body is BufferedBody =>
  typeof (body as Partial<BufferedBody>).takeBuffered === 'function'

export interface DataStore {
  readonly capabilities: readonly StoreCapability[]
  /** Creates an empty upload; rejects with TusError('ID_TAKEN') when the id exists. */
  create(upload: NewUpload): Promise<Upload>
  /**
   * The upload with its current offset, or undefined when there is none: one read of the store's state,
   * never a listing. Staged bytes never count in the offset.
   */
  get(id: string): Promise<Upload | undefined>
  /**
   * Appends `body` at `offset` (the offset that stands, as `get` reported it to the caller, who holds the
   * upload's lock) and resolves with the offset after the last byte written.
   * Not staged: every byte it resolves for counts. If it rejects, `get` reports the offset that stands: the
   * bytes stored before the failure, and never a byte whose storage failed (a failed fsync included).
   * Staged: nothing counts until commit; if it rejects, nothing of it counts.
   */
  write(id: string, offset: number, body: AsyncIterable<Buffer>, options?: WriteOptions): Promise<number>
  /** The staged bytes written from `offset` count from now on; resolves with the new offset. */
  commit(id: string, offset: number): Promise<number>
  /** Drops the staged bytes written from `offset`: the offset stays `offset`. */
  discard(id: string, offset: number): Promise<void>
  /**
   * Makes a complete upload (offset === length) whole, before the middleware runs onComplete and records
   * completion: an object store completes its multipart upload. Called again after a crash around it, so it
   * must succeed for an upload it already finished. Optional: a store whose bytes are whole as written needs none.
   */
  finish?(id: string): Promise<void>
  /** Changes length (once, when deferred), completedAt or metadata, durably. */
  update(id: string, changes: UploadChanges): Promise<Upload>
  /** Removes the upload, its bytes and anything it left in the store (capability: termination). */
  remove?(id: string): Promise<void>
  /** The stored bytes, or a range of them (capability: read). */
  read?(id: string, range?: ByteRange): Promise<Readable>
  /**
   * Replaces the upload's bytes with the bytes of `parts` (finished uploads, in order) and resolves with the
   * upload, whose offset is then their total size. All or nothing: after a crash the upload holds either none
   * of the bytes or all of them. A part that is gone rejects with TusError('CONCAT_PART_GONE')
   * (capability: concatenation).
   */
  concatenate?(id: string, parts: readonly string[]): Promise<Upload>
  /**
   * Records that final upload `finalId` waits for part `partId`, with no lock on the part (it may be
   * receiving bytes meanwhile). Kept until the part is removed (capability: concatenation).
   */
  link?(partId: string, finalId: string): Promise<void>
  /** The finals recorded by `link` for a part, in any order; some may be gone or done (capability: concatenation). */
  linked?(partId: string): Promise<string[]>
  /**
   * The uploads whose last stored byte (`updatedAt`, or `createdAt`) is older than `before` (ms since the
   * epoch), in no particular order, without reading every upload where the store can help it; it may yield
   * more, never fewer (capability: expiration).
   */
  idle?(before: number): AsyncIterable<Upload>
}

const CORE_METHODS = ['create', 'get', 'write', 'commit', 'discard', 'update'] as const

export function assertStore(store: unknown): asserts store is DataStore {
  const s = store as Partial<DataStore> | null
  if (!s || typeof s !== 'object') throw new TypeError('tus(): option "store" must be a DataStore')
  for (const method of CORE_METHODS) {
    if (typeof s[method] !== 'function') throw new TypeError(`tus(): option "store" has no ${method}() method`)
  }
  if (!Array.isArray(s.capabilities)) throw new TypeError('tus(): option "store" must list its capabilities')
  for (const cap of s.capabilities) {
    const methods = (CAPABILITY_METHODS as Record<string, readonly string[]>)[cap]
    if (!methods) throw new TypeError(`tus(): store capability "${cap}" is not known`)
    for (const method of methods) {
      if (typeof (s as Record<string, unknown>)[method] !== 'function') {
        throw new TypeError(`tus(): store claims "${cap}" but has no ${method}() method`)
      }
    }
  }
}

export const storeCan = (store: DataStore, cap: StoreCapability): boolean => store.capabilities.includes(cap)
