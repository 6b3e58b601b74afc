/**
 * What the middleware needs from storage. An interface, not a base class: a store implements the core
 * methods, lists the optional capabilities it has, and the factory refuses a store that lists a capability
 * without the method behind it (see assertStore).
 */
import type { Readable } from 'node:stream'
import type { NewUpload, Upload } from '../upload.js'

/** Optional store capabilities and the method each one needs. */
export const CAPABILITY_METHODS = {
  /** DELETE (spec: termination). */
  termination: 'remove',
  /** GET of an upload's bytes. */
  read: 'read',
  /** Final uploads (spec: concatenation). */
  concatenation: 'concatenate',
  /** Listing, so that expired uploads can be found and removed (spec: expiration). */
  expiration: 'list',
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
   * The bytes are not verified yet (a checksum is checked once the body ends). Until `commit(id)` is called
   * they must not count in the offset after a crash: a store that finds a provisional write left by a dead
   * process drops it. Passed only to stores that implement `commit`.
   */
  provisional?: boolean
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
  /** The upload with its current offset, or undefined when there is none. */
  get(id: string): Promise<Upload | undefined>
  /**
   * Appends `body` at `offset` (which the caller has checked is the current offset) and resolves with the new
   * offset. Every chunk it resolves for must be stored; if it rejects, the bytes written before the failure
   * stay stored and `get` reports them.
   */
  write(id: string, offset: number, body: AsyncIterable<Buffer>, options?: WriteOptions): Promise<number>
  /**
   * Cuts the upload back to `offset` bytes: a refused request leaves the upload as it was. Also ends a
   * provisional write (its bytes past `offset` are gone).
   */
  truncate(id: string, offset: number): Promise<void>
  /** Makes the bytes of a provisional write permanent. Optional: a store that loses everything in a crash needs none. */
  commit?(id: string): Promise<void>
  /** Changes length (once, when deferred), completedAt or metadata, durably. */
  update(id: string, changes: UploadChanges): Promise<Upload>
  /** Removes the upload and its bytes (capability: termination). */
  remove?(id: string): Promise<void>
  /** The stored bytes, or a range of them (capability: read). */
  read?(id: string, range?: ByteRange): Promise<Readable>
  /**
   * Replaces the upload's bytes with the bytes of `parts` (complete uploads, in order, repeats allowed) and
   * resolves with the upload, whose offset is then their total size. All or nothing: after a crash the upload
   * holds either none of the bytes or all of them (capability: concatenation).
   */
  concatenate?(id: string, parts: readonly string[]): Promise<Upload>
  /** Every upload, in no particular order (capability: expiration). */
  list?(): AsyncIterable<Upload>
}

export function assertStore(store: unknown): asserts store is DataStore {
  const s = store as Partial<DataStore> | null
  if (!s || typeof s !== 'object') throw new TypeError('tus(): option "store" must be a DataStore')
  for (const method of ['create', 'get', 'write', 'truncate', 'update'] as const) {
    if (typeof s[method] !== 'function') throw new TypeError(`tus(): option "store" has no ${method}() method`)
  }
  if (!Array.isArray(s.capabilities)) throw new TypeError('tus(): option "store" must list its capabilities')
  for (const cap of s.capabilities) {
    const method = (CAPABILITY_METHODS as Record<string, string>)[cap]
    if (!method) throw new TypeError(`tus(): store capability "${cap}" is not known`)
    if (typeof (s as Record<string, unknown>)[method] !== 'function') {
      throw new TypeError(`tus(): store claims "${cap}" but has no ${method}() method`)
    }
  }
}

export const storeCan = (store: DataStore, cap: StoreCapability): boolean => store.capabilities.includes(cap)
