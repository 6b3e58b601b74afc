/**
 * Final uploads (spec: concatenation, concatenation-unfinished): checking the parts a final names, and
 * assembling it once every part is complete — at its creation, after the request that completed its last part
 * (in the background), or the next time the final is looked at. Which finals wait for which parts is kept in
 * the store (`link`), so any process can settle them.
 */
import createDebug from 'debug'
import { flushEvents, type Context } from '../context.js'
import { TusError } from '../errors.js'
import { idFromUrl } from '../protocol/concat.js'
import { storeCan } from '../stores/data-store.js'
import { isComplete, snapshot, type Upload } from '../upload.js'
import { withLock } from '../locks/with-lock.js'
import { assertHeld, completeIfDone } from './complete.js'
import { isExpired, refuseExpired } from './expiry.js'

const debug = createDebug('tus-middleware:concat')

export interface SettleOptions {
  /** Remove a final found expired (only under its lock); false just answers 410. Default true. */
  removeExpired?: boolean
}

/**
 * The partial uploads `urls` name, in order, after the authorize hook agreed to each. At most
 * `maxConcatParts`, each named once: a short header must not make the server copy a part over and over.
 */
export async function resolveParts(ctx: Context, urls: string[]): Promise<Upload[]> {
  if (urls.length > ctx.options.maxConcatParts) throw new TusError('CONCAT_TOO_MANY_PARTS')
  const ids = urls.map((url) => {
    const id = idFromUrl(url, ctx.base)
    if (id === undefined) throw new TusError('CONCAT_UNKNOWN_PART')
    return id
  })
  if (new Set(ids).size !== ids.length) throw new TusError('CONCAT_REPEATED_PART')
  const parts: Upload[] = []
  for (const id of ids) {
    const part = await ctx.options.store.get(id)
    if (!part || (await isExpired(ctx.server, part))) throw new TusError('CONCAT_UNKNOWN_PART')
    // Asked before anything else is said about the upload.
    if (ctx.options.authorize) await ctx.options.authorize(snapshot(part), ctx.req, 'concatenate')
    if (part.concat?.type !== 'partial') throw new TusError('CONCAT_NOT_PARTIAL')
    parts.push(part)
  }
  return parts
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

/**
 * Brings a final upload up to date; call it holding the final's lock. Sets its length once every part's is
 * known, and assembles it once every part is complete (completion then runs once, as for any upload).
 * 410 when a part no longer exists.
 */
export async function settleFinal(ctx: Context, final: Upload, options: SettleOptions = {}): Promise<Upload> {
  if (final.concat?.type !== 'final' || final.completedAt !== undefined) return final
  const { store } = ctx.options
  const parts: Upload[] = []
  for (const id of partIds(final)) {
    const part = await store.get(id)
    if (!part) throw new TusError('CONCAT_PART_GONE')
    parts.push(part)
  }
  if (await isExpired(ctx.server, final)) await refuseExpired(ctx.server, final, options.removeExpired !== false)
  let current = final
  const length = totalLength(parts)
  if (current.length === undefined && length !== undefined) {
    // Parts with deferred lengths can add up past the limit the final may have.
    if (length > (await ctx.options.maxSize(ctx.req))) {
      assertHeld(ctx)
      if (storeCan(store, 'termination')) await store.remove!(current.id)
      throw new TusError('MAX_SIZE_EXCEEDED')
    }
    assertHeld(ctx)
    current = { ...current, ...(await store.update(current.id, { length })) }
  }
  for (let i = 0; i < parts.length; i++) {
    // All bytes in, completion not recorded: a crash came between the two, or the part's request is
    // completing it right now. Either way, its lock settles which.
    if (parts[i].completedAt === undefined && isComplete(parts[i])) parts[i] = await completePart(ctx, parts[i])
  }
  if (!parts.every((part) => part.completedAt !== undefined)) return current
  return assemble(ctx, current)
}

async function completePart(ctx: Context, part: Upload): Promise<Upload> {
  return withLock(ctx, part.id, async () => {
    const current = await ctx.options.store.get(part.id)
    if (!current) throw new TusError('CONCAT_PART_GONE')
    return completeIfDone(ctx, current)
  })
}

async function assemble(ctx: Context, final: Upload): Promise<Upload> {
  let current = final
  if (current.offset !== current.length) {
    assertHeld(ctx)
    current = await ctx.options.store.concatenate!(current.id, partIds(current))
    debug('assembled %s from %d parts', current.id, partIds(current).length)
  }
  return completeIfDone(ctx, current)
}

/**
 * A part just completed: settles the finals linked to it (concatenation-unfinished). Runs after the
 * response of the request that completed the part; a final that cannot be settled now is settled when it is
 * next looked at.
 */
export async function settleLinked(ctx: Context, partId: string): Promise<void> {
  const { store } = ctx.options
  for (const finalId of await store.linked!(partId)) {
    try {
      await withLock(ctx, finalId, async () => {
        const final = await store.get(finalId)
        if (final && partIds(final).includes(partId)) await settleFinal(ctx, final, { removeExpired: false })
      })
    } catch (err) {
      debug('could not settle %s after %s finished: %s', finalId, partId, (err as Error)?.message ?? err)
    }
  }
  flushEvents(ctx)
}
