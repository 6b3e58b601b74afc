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
  write(id: string, offset: number, body: AsyncIterable<Buffer>): Promise<number>
  /** Cuts the upload back to `offset` bytes: a refused request leaves the upload as it was. */
  truncate(id: string, offset: number): Promise<void>
  /** Changes length (once, when deferred), completedAt or metadata, durably. */
  update(id: string, changes: UploadChanges): Promise<Upload>
  /** Removes the upload and its bytes (capability: termination). */
  remove?(id: string): Promise<void>
  /** The stored bytes, or a range of them (capability: read). */
  read?(id: string, range?: ByteRange): Promise<Readable>
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
