/**
 * Expiration (spec: expiration), decided here and nowhere else. An upload expires `expireAfter` ms after its
 * last stored byte: an unfinished one always, a completed one with `expireCompleted`. Concatenation bends
 * the rule both ways: an unfinished final upload is as active as its busiest part, and a part that a live
 * unfinished final still needs never expires. Expired uploads answer 410; requests that hold the upload's
 * lock, and the sweep, remove them; a GET never does.
 */
import createDebug from 'debug'
import type { Server } from '../context.js'
import { TusError } from '../errors.js'
import { safeEmit } from '../events.js'
import type { ResolvedOptions } from '../options.js'
import { storeCan } from '../stores/data-store.js'
import { snapshot, type Upload } from '../upload.js'

const debug = createDebug('tus-middleware:expiration')

/** When the upload expires by its own activity (ms since the epoch), or undefined when it does not. */
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

/** Upload-Expires, as an HTTP-date, for every upload that will expire (spec: expiration, Upload-Expires). */
export function expiresHeader(options: ResolvedOptions, upload: Upload): { 'Upload-Expires'?: string } {
  const at = expiryOf(options, upload)
  return at === undefined ? {} : { 'Upload-Expires': new Date(at).toUTCString() }
}

const isFinal = (upload: Upload): boolean => upload.concat?.type === 'final'
const partIds = (upload: Upload): string[] => (upload.concat?.type === 'final' ? upload.concat.parts : [])

/**
 * The upload as active as it really is: an unfinished final takes the latest activity of its parts (those
 * that still exist).
 */
export async function activityOf(server: Server, upload: Upload): Promise<Upload> {
  if (!isFinal(upload) || upload.completedAt !== undefined) return upload
  const { store } = server.options
  let latest = Date.parse(upload.updatedAt ?? upload.createdAt)
  for (const id of new Set(partIds(upload))) {
    const part = await store.get(id)
    if (part) latest = Math.max(latest, Date.parse(part.updatedAt ?? part.createdAt))
  }
  return { ...upload, updatedAt: new Date(latest).toISOString() }
}

/**
 * Whether the upload has expired, now. Only an upload that looks expired by its own activity costs more
 * than arithmetic: a final's parts, or a part's finals, are read then.
 */
export async function isExpired(server: Server, upload: Upload, now = Date.now()): Promise<boolean> {
  const { options } = server
  const own = expiryOf(options, upload)
  if (own === undefined || own > now) return false
  if (isFinal(upload) && upload.completedAt === undefined) {
    const at = expiryOf(options, await activityOf(server, upload))
    return at !== undefined && at <= now
  }
  if (upload.concat?.type === 'partial' && storeCan(options.store, 'concatenation')) return !(await neededByLiveFinal(server, upload, now))
  return true
}

/** A part is kept while an unfinished final that names it has not expired. */
async function neededByLiveFinal(server: Server, part: Upload, now: number): Promise<boolean> {
  const { store } = server.options
  for (const finalId of await store.linked!(part.id)) {
    const final = await store.get(finalId)
    if (!final || final.completedAt !== undefined || !partIds(final).includes(part.id)) continue
    const at = expiryOf(server.options, await activityOf(server, final))
    if (at === undefined || at > now) return true
  }
  return false
}

/** Removes an expired upload and reports it (`expired`); false when it was already gone. Call it holding the lock. */
export async function removeExpired(server: Server, upload: Upload): Promise<boolean> {
  try {
    await server.options.store.remove!(upload.id)
  } catch (err) {
    if ((err as { code?: string })?.code === 'NOT_FOUND') return false
    throw err
  }
  debug('removed expired upload %s', upload.id)
  safeEmit(server.emitter, 'expired', snapshot(withExpiry(server.options, upload)))
  return true
}

/** 410 for an expired upload (spec: expiration), removing it first when the caller holds its lock. */
export async function refuseExpired(server: Server, upload: Upload, remove: boolean): Promise<never> {
  if (remove) await removeExpired(server, upload)
  throw new TusError('GONE')
}
