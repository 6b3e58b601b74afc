/**
 * Concatenation (spec: concatenation, concatenation-unfinished): checking the parts a final upload names,
 * and assembling it once every part is complete — at its creation, when its last part finishes, or, after a
 * restart, the next time the final upload is looked at.
 */
import createDebug from 'debug'
import type { Context, Server } from '../context.js'
import { TusError } from '../errors.js'
import { isExpired, refuseExpired } from '../expiration.js'
import { idFromUrl } from '../protocol/concat.js'
import type { DataStore } from '../stores/data-store.js'
import { isComplete, snapshot, type Upload } from '../upload.js'
import { withLock } from './access.js'
import { forgetWaiting, takeWaiting, unwait, waitFor } from '../waiting.js'
import { storeCan } from '../stores/data-store.js'
import { completeIfDone } from './complete.js'

const debug = createDebug('tus-middleware:concat')

/** The partial uploads `urls` name, in order, after the authorize hook agreed to each. */
export async function resolveParts(ctx: Context, urls: string[]): Promise<Upload[]> {
  const ids = urls.map((url) => {
    const id = idFromUrl(url, ctx.base)
    if (id === undefined) throw new TusError('CONCAT_UNKNOWN_PART')
    return id
  })
  const seen = new Map<string, Upload>()
  for (const id of ids) {
    if (seen.has(id)) continue
    const part = await ctx.options.store.get(id)
    if (!part || isExpired(ctx.options, part)) throw new TusError('CONCAT_UNKNOWN_PART')
    // Asked before anything else is said about the upload.
    if (ctx.options.authorize) await ctx.options.authorize(snapshot(part), ctx.req, 'concatenate')
    if (part.concat?.type !== 'partial') throw new TusError('CONCAT_NOT_PARTIAL')
    seen.set(id, part)
  }
  return ids.map((id) => seen.get(id)!)
}

/** Sum of the parts' lengths, or undefined while one of them is deferred. */
export function totalLength(parts: readonly Upload[]): number | undefined {
  let sum = 0
  for (const part of parts) {
    if (part.length === undefined) return undefined
    sum += part.length
  }
  return sum
}

const partIds = (final: Upload): string[] => (final.concat?.type === 'final' ? final.concat.parts : [])

/** The parts of a final upload by id; undefined for one that no longer exists. */
async function loadParts(store: DataStore, final: Upload): Promise<Map<string, Upload | undefined>> {
  const unique = [...new Set(partIds(final))]
  const found = await Promise.all(unique.map((id) => store.get(id)))
  return new Map(unique.map((id, i) => [id, found[i]]))
}

/** An unfinished final upload is as active as its busiest part (used for expiration). */
export async function finalActivity(store: DataStore, final: Upload): Promise<Upload> {
  return final.completedAt !== undefined ? final : activityOf(final, await loadParts(store, final))
}

function activityOf(final: Upload, parts: Map<string, Upload | undefined>): Upload {
  let latest = Date.parse(final.updatedAt ?? final.createdAt)
  for (const part of parts.values()) {
    if (part) latest = Math.max(latest, Date.parse(part.updatedAt ?? part.createdAt))
  }
  return { ...final, updatedAt: new Date(latest).toISOString() }
}

/**
 * Brings a final upload up to date; call it holding the final's lock. Sets its length once every part's is
 * known, assembles it once every part is complete (completion then runs once, as for any upload), and
 * otherwise remembers to come back when a part finishes. 410 when a part no longer exists.
 */
export async function settleFinal(ctx: Context, final: Upload): Promise<Upload> {
  if (final.concat?.type !== 'final' || final.completedAt !== undefined) return final
  const { store } = ctx.options
  // Registered before the parts are read: a part that finishes meanwhile then finds this final to settle.
  for (const id of partIds(final)) waitFor(ctx.server.waiting, id, final.id)
  const parts = await loadParts(store, final)
  const ordered = partIds(final).map((id) => parts.get(id))
  try {
    if (ordered.some((part) => part === undefined)) throw new TusError('CONCAT_PART_GONE')
    let current = activityOf(final, parts)
    if (isExpired(ctx.options, current)) await refuseExpired(ctx.server, current, true)
    const length = totalLength(ordered as Upload[])
    if (current.length === undefined && length !== undefined) {
      // Parts with deferred lengths can add up past the limit the final may have.
      if (length > (await ctx.options.maxSize(ctx.req))) {
        if (storeCan(store, 'termination')) await store.remove!(current.id)
        throw new TusError('MAX_SIZE_EXCEEDED')
      }
      current = { ...current, ...(await store.update(current.id, { length })), updatedAt: current.updatedAt }
    }
    const finished = (part: Upload) => partFinished(ctx.server, part)
    for (const part of parts.values()) if (finished(part!)) unwait(ctx.server.waiting, part!.id, final.id)
    if (![...parts.values()].every((part) => finished(part!))) return current
    return await assemble(ctx, current)
  } catch (err) {
    forgetWaiting(ctx.server.waiting, final)
    throw err
  }
}

/**
 * A part is finished once completedAt is set; or when all its bytes are in and no request is writing it (a
 * process that died between the last byte and the record). A part whose last bytes are still being checked
 * has offset === length for a moment, and may yet be refused and cut back: it is not finished.
 */
const partFinished = (server: Server, part: Upload): boolean =>
  part.completedAt !== undefined || (isComplete(part) && !server.writing.has(part.id))

async function assemble(ctx: Context, final: Upload): Promise<Upload> {
  let current = final
  const { store } = ctx.options
  if (current.offset !== current.length) {
    current = await store.concatenate!(current.id, partIds(current))
    debug('assembled %s from %d parts', current.id, partIds(current).length)
  }
  return completeIfDone(ctx, current)
}

/** A partial upload just completed: settle the final uploads waiting for it (concatenation-unfinished). */
export async function settleWaiting(ctx: Context, partId: string): Promise<void> {
  const finals = takeWaiting(ctx.server.waiting, partId)
  if (!finals) return
  for (const finalId of finals) {
    try {
      await withLock(ctx, finalId, async () => {
        const final = await ctx.options.store.get(finalId)
        if (final) await settleFinal(ctx, final)
      })
    } catch (err) {
      // The partial's request succeeded; the final is settled again when it is next looked at.
      debug('could not settle %s after %s finished: %s', finalId, partId, (err as Error)?.message ?? err)
    }
  }
}
