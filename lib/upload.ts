import type { Metadata } from './protocol/metadata.js'

/**
 * The one upload shape seen by hooks, events and stores.
 * Dates are ISO 8601 strings so that a record survives JSON unchanged.
 */
export interface Upload {
  /** Opaque id; the last path segment of the upload URL. */
  id: string
  /** Bytes received and stored so far. */
  offset: number
  /** Total size in bytes; undefined while the length is deferred (spec: creation-defer-length). */
  length?: number
  /** Upload-Metadata, values decoded as UTF-8 strings. */
  metadata: Metadata
  /** When the upload was created. */
  createdAt: string
  /** Set once the upload is complete and the onComplete hook has succeeded. */
  completedAt?: string
  /** When bytes were last stored (the store reports it; expiration counts inactivity from it). */
  updatedAt?: string
  /** When an unfinished upload stops being resumable (spec: expiration); set when `expireAfter` is. */
  expiresAt?: string
  /** Concatenation role (spec: concatenation): a partial, or a final made of these partial ids. */
  concat?: Concat
  /**
   * The app route this upload was created on by `uploads.resumable()` (IETF draft): kept in the record so that
   * whichever process serves the append completing the upload finds the route that answers it.
   */
  route?: UploadRoute
}

/**
 * An upgraded route as the upload's record keeps it: `key` names the route (the `name` given to resumable(), or
 * the creating request's method, mount path and route path); `method`, `url` and `params` are the creating
 * request's.
 */
export interface UploadRoute {
  key: string
  method: string
  url: string
  params?: Record<string, string>
}

/**
 * A partial upload, or a final one made of `parts` (ids, in order, repeats allowed); `header` is the
 * Upload-Concat value as the client sent it, echoed by HEAD.
 */
export type Concat = { type: 'partial' } | { type: 'final'; parts: string[]; header: string }

/** What a store is asked to create: everything but the offset, which starts at 0. */
export type NewUpload = Omit<Upload, 'offset'>

export const isComplete = (u: Upload): boolean => u.length !== undefined && u.offset === u.length

/** A frozen copy for events, so listeners cannot change the stored record. */
export function snapshot(upload: Upload): Readonly<Upload> {
  return Object.freeze({ ...upload, metadata: Object.freeze({ ...upload.metadata }) })
}
