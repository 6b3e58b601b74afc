/**
 * Groups a body's chunks into batches for fewer, larger writes. Each write is a thread-pool round trip, and
 * a socket hands out 64 KiB at a time: written one by one, a fast upload costs more in round trips than in
 * copying. A batch is handed out once it holds `target` bytes, when no chunk has arrived for `waitMs`
 * (a slow or stalled client does not keep received bytes off the disk), or when the body ends. If the body
 * fails, what was gathered is handed out before the error is thrown, so that it can still be stored.
 */
import type { FileHandle } from 'node:fs/promises'
import { isBufferedBody } from './data-store.js'

const TIMEOUT = Symbol('timeout')

/** Most chunks in one batch (one writev), whatever their sizes. */
const MAX_BATCH_CHUNKS = 1024

export async function* batches(body: AsyncIterable<Buffer>, target: number, waitMs: number): AsyncGenerator<Buffer[]> {
  const it = body[Symbol.asyncIterator]()
  const buffered = isBufferedBody(body) ? body : undefined
  let pending: Promise<IteratorResult<Buffer>> | undefined
  let batch: Buffer[] = []
  let size = 0
  let ended = false
  try {
    for (;;) {
      let result: IteratorResult<Buffer> | typeof TIMEOUT
      try {
        pending ??= it.next()
        result = batch.length === 0 ? await pending : await within(pending, waitMs)
      } catch (err) {
        ended = true
        if (batch.length > 0) yield batch
        throw err
      }
      if (result === TIMEOUT) {
        const out = batch
        batch = []
        size = 0
        yield out
        continue
      }
      pending = undefined
      if (result.done) break
      batch.push(result.value)
      size += result.value.length
      // Everything that already arrived joins the batch at once.
      if (buffered) {
        for (const chunk of buffered.takeBuffered()) {
          batch.push(chunk)
          size += chunk.length
        }
      }
      if (size >= target || batch.length >= MAX_BATCH_CHUNKS) {
        const out = batch
        batch = []
        size = 0
        yield out
      }
    }
    ended = true
    if (batch.length > 0) yield batch
  } finally {
    // Stopped early (the consumer failed): tell the body, without waiting on a body that may be stalled.
    if (!ended) it.return?.()?.catch(() => {})
  }
}

/** The promise's outcome, or TIMEOUT if it has not settled within `ms`. */
function within<T>(promise: Promise<T>, ms: number): Promise<T | typeof TIMEOUT> {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(resolve, ms, TIMEOUT)
    promise.then(
      (value) => {
        clearTimeout(timer)
        resolve(value)
      },
      (err) => {
        clearTimeout(timer)
        reject(err)
      },
    )
  })
}

/** Writes `chunks` in order at `position` (one writev, then again for whatever a short write left). */
export async function writeAll(fh: FileHandle, chunks: Buffer[], position: number): Promise<number> {
  let pending = chunks
  for (;;) {
    const { bytesWritten } =
      pending.length === 1 ? await fh.write(pending[0], 0, pending[0].length, position) : await fh.writev(pending, position)
    if (bytesWritten === 0) throw new Error('FileStore: a write stored no bytes')
    position += bytesWritten
    let skip = bytesWritten
    let i = 0
    while (i < pending.length && skip >= pending[i].length) skip -= pending[i++].length
    if (i === pending.length) return position
    pending = pending.slice(i)
    if (skip > 0) pending[0] = pending[0].subarray(skip)
  }
}
