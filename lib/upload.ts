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
