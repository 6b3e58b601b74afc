/**
 * Concatenation (spec: concatenation, concatenation-unfinished): checking the parts a final upload names,
 * and assembling it once every part is complete — at its creation, when its last part finishes, or, after a
 * restart, the next time the final upload is looked at.
 */
import createDebug from 'debug'
import type { Context, Server } from '../context.js'
import { TusError } from '../errors.js'
import { isExpired, removeExpired } from '../expiration.js'
import { idFromUrl } from '../protocol/concat.js'
import type { DataStore } from '../stores/data-store.js'
import { isComplete, snapshot, type Upload } from '../upload.js'
import { withLock } from './access.js'
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
    if (part.concat?.type !== 'partial') throw new TusError('CONCAT_NOT_PARTIAL')
    if (ctx.options.authorize) await ctx.options.authorize(snapshot(part), ctx.req, 'concatenate')
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
  if (final.completedAt !== undefined) return final
  let latest = Date.parse(final.updatedAt ?? final.createdAt)
  for (const part of (await loadParts(store, final)).values()) {
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
  const parts = await loadParts(store, final)
  const ordered = partIds(final).map((id) => parts.get(id))
  if (ordered.some((part) => part === undefined)) throw new TusError('CONCAT_PART_GONE')
  let current = await finalActivity(store, final)
  if (isExpired(ctx.options, current)) {
    await removeExpired(ctx.server, current)
    throw new TusError('GONE')
  }
  const length = totalLength(ordered as Upload[])
  if (current.length === undefined && length !== undefined) {
    current = { ...current, ...(await store.update(current.id, { length })), updatedAt: current.updatedAt }
  }
  const unfinished = [...parts.values()].filter((part) => !isComplete(part!))
  if (unfinished.length > 0) {
    for (const part of unfinished) waitFor(ctx.server, part!.id, current.id)
    return current
  }
  if (current.offset !== current.length) {
    current = await store.concatenate!(current.id, partIds(current))
    debug('assembled %s from %d parts', current.id, partIds(current).length)
  }
  return completeIfDone(ctx, current)
}

function waitFor(server: Server, partId: string, finalId: string): void {
  let finals = server.waiting.get(partId)
  if (!finals) server.waiting.set(partId, (finals = new Set()))
  finals.add(finalId)
}

/** A partial upload just completed: settle the final uploads waiting for it (concatenation-unfinished). */
export async function settleWaiting(ctx: Context, partId: string): Promise<void> {
  const finals = ctx.server.waiting.get(partId)
  if (!finals) return
  ctx.server.waiting.delete(partId)
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
