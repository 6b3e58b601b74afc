/**
 * Expiration (spec: expiration): an unfinished upload expires `expireAfter` ms after its last stored byte.
 * Expired uploads answer 410 when asked for, and a cleanup (on a timer, or on demand) removes them.
 */
import createDebug from 'debug'
import type { Server } from './context.js'
import { TusError } from './errors.js'
import { safeEmit } from './events.js'
import { forgetWaiting } from './waiting.js'
import type { ResolvedOptions } from './options.js'
import { isComplete, snapshot, type Upload } from './upload.js'

const debug = createDebug('tus-middleware:expiration')

/** When the upload expires (ms since the epoch), or undefined when it does not. */
export function expiryOf(options: ResolvedOptions, upload: Upload): number | undefined {
  if (options.expireAfter === undefined) return undefined
  if (upload.completedAt !== undefined && !options.expireCompleted) return undefined
  return Date.parse(upload.updatedAt ?? upload.createdAt) + options.expireAfter
}

/** The upload with `expiresAt` set from the options (or removed when it does not expire). */
export function withExpiry(options: ResolvedOptions, upload: Upload): Upload {
  const at = expiryOf(options, upload)
  const { expiresAt: _, ...rest } = upload
  return at === undefined ? rest : { ...rest, expiresAt: new Date(at).toISOString() }
}

export function isExpired(options: ResolvedOptions, upload: Upload, now = Date.now()): boolean {
  const at = expiryOf(options, upload)
  return at !== undefined && at <= now
}

/** Upload-Expires for unfinished uploads, as an HTTP-date (spec: expiration, Upload-Expires). */
export function expiresHeader(options: ResolvedOptions, upload: Upload): { 'Upload-Expires'?: string } {
  if (upload.completedAt !== undefined || isComplete(upload)) return {}
  const at = expiryOf(options, upload)
  return at === undefined ? {} : { 'Upload-Expires': new Date(at).toUTCString() }
}

/** Removes an expired upload and reports it; false when it was already gone. */
export async function removeExpired(server: Server, upload: Upload): Promise<boolean> {
  try {
    await server.options.store.remove!(upload.id)
  } catch (err) {
    if ((err as { code?: string })?.code === 'NOT_FOUND') return false
    throw err
  }
  forgetWaiting(server.waiting, upload)
  debug('removed expired upload %s', upload.id)
  safeEmit(server.emitter, 'expired', snapshot(withExpiry(server.options, upload)))
  return true
}

/** 410 for an expired upload (spec: expiration), removing it first when the caller holds its lock. */
export async function refuseExpired(server: Server, upload: Upload, remove: boolean): Promise<never> {
  if (remove) await removeExpired(server, upload)
  throw new TusError('GONE')
}
