/**
 * The write path of S3Store: one PATCH's body read into part buffers and sent as parts of the upload's multipart
 * upload, pipelined. While parts upload (at most `partConcurrency` at a time), the body goes on being read into
 * the next part's buffer; when that buffer is full and the window is full, the body is not read (backpressure).
 * Parts are recorded in part-number order only, so the state never counts a part after one that has not ended
 * well; when a part fails, the parts after it are aborted and never count. What is left at the end becomes the
 * last part (when it ends the upload) or the new tail. A staged write records its parts and tail in a stage that
 * commit() makes count.
 */
import createDebug from 'debug'
import { TusError } from '../errors.js'
import type { WriteOptions } from '../stores/data-store.js'
import { isNotFound, S3_MAX_PARTS, type S3Calls } from './s3-calls.js'
import { lockLost, type Loaded, type Stage, type State } from './state.js'

const debug = createDebug('tus-middleware:s3')

/**
 * During a write, a state write (the parts confirmed) starts at most this often, and one more ends it: one small
 * conditional PUT per part would cost the S3 service about as much as a part every few dozen.
 */
const STATE_INTERVAL_MS = 1000

/** What a write needs of the store. */
export interface PartWriterStore {
  readonly s3: S3Calls
  /** Parts uploaded at the same time. */
  readonly partConcurrency: number
  /** The upload's object key (the multipart upload's key). */
  key(id: string): string
  /** A new tail object's key. */
  tailKey(id: string): string
  /** Writes the state over the version read (If-Match); `bytes`: bytes counted (updatedAt moves). */
  save(id: string, loaded: Loaded, bytes: boolean): Promise<void>
  /** A new part buffer of `size` bytes (the store counts them). */
  allocate(size: number): Buffer
}

/** A part sent and not yet recorded. */
interface Flight {
  n: number
  size: number
  controller: AbortController
  settled: boolean
  /** Set when it is stored. */
  etag?: string
  error?: unknown
}

/** One write of bytes at the upload's offset (checked by the store), from a loaded state it changes. */
export class PartWriter {
  private readonly state: State
  private readonly signal: AbortSignal | undefined
  private readonly staged: boolean
  private readonly stage: Stage | undefined
  private readonly partSize: number
  private readonly window: number
  /** Objects to delete once the state no longer names them. */
  private garbage: string[] = []
  /**
   * Part buffers, reused: the one being filled and one per part in flight, so at most partConcurrency + 1 of
   * `partSize` per write. A part's buffer comes back when its upload ends (the bytes are then in S3, or never).
   */
  private readonly pool: Buffer[] = []
  /** The part being filled: the confirmed tail's bytes once read back, then new ones. */
  private buffer: Buffer | undefined
  private pendingSize = 0
  /** New bytes in the buffer. */
  private fresh = 0
  private tailRead = false
  private end: number
  /** Set when S3 failed (a part, a tail, the state): what was stored and confirmed stands, nothing more is stored. */
  private failure: { err: unknown } | undefined
  /** Set when the state could not be written: then not even confirmed parts are recorded any more. */
  private saveFailed = false
  private nextNumber: number
  /** Parts sent and not yet recorded, in part-number order (at most partConcurrency). */
  private readonly flights: Flight[] = []
  private waiters: (() => void)[] = []
  /**
   * State writes, one at a time, in the order of the changes: each writes the state as it is when it starts,
   * so changes made while one runs are written together by the next.
   */
  private saves: Promise<void> = Promise.resolve()
  private saveQueued = false
  /** The state changed (parts confirmed, a new tail) since the last state write started. */
  private dirty = false
  /** When the last state write started (performance.now(): monotonic, unlike the wall clock). */
  private lastSave = -Infinity
  /** A deferred state write (persist). */
  private timer: NodeJS.Timeout | undefined

  constructor(
    private readonly store: PartWriterStore,
    private readonly id: string,
    private readonly loaded: Loaded,
    private readonly offset: number,
    options: WriteOptions,
  ) {
    const state = (this.state = loaded.state)
    const { signal, fence } = options
    this.signal = signal
    // A stage a dead writer left: dropped (with the next state written), its tail deleted after that.
    if (state.stage) {
      if (state.stage.tail) this.garbage.push(state.stage.tail.key)
      state.stage = undefined
    }
    if (fence !== undefined && (state.fence === undefined || fence > state.fence)) state.fence = fence
    this.staged = options.staged === true
    this.stage = this.staged ? { offset, parts: [] } : undefined
    this.partSize = state.partSize
    this.window = store.partConcurrency
    this.end = offset
    this.nextNumber = state.parts.length + 1
  }

  /** Reads `body` to its end and stores it; resolves with the offset reached. */
  async write(body: AsyncIterable<Buffer>): Promise<number> {
    const { state, signal, id, offset } = this
    try {
      for await (const chunk of body) {
        signal?.throwIfAborted()
        if (this.failure) throw this.failure.err
        if (chunk.length === 0) continue
        if (!this.tailRead) {
          this.tailRead = true
          if (state.tail && state.tail.size > 0) {
            const tail = await this.call(() => this.store.s3.readObject(state.tail!.key, state.tail!.size, signal)).catch((err) => {
              // Only another writer deletes a tail the state names (after writing a state that no longer does).
              throw isNotFound(err) ? lockLost('its tail was replaced by another writer') : err
            })
            this.buffer = this.take()
            tail.copy(this.buffer)
            this.pendingSize = tail.length
          }
        }
        // Copied into the part: the socket's buffers are not ours to keep.
        for (let at = 0; at < chunk.length; ) {
          this.buffer ??= this.take()
          const n = chunk.copy(this.buffer, this.pendingSize, at)
          at += n
          this.pendingSize += n
          this.fresh += n
          this.end += n
          if (this.pendingSize === this.partSize) await this.sendPart(this.partSize)
        }
      }
      signal?.throwIfAborted()
      await this.storeRest()
    } catch (err) {
      // The body failed (the client went away): the bytes it gave count, once stored. Not when S3 failed (what
      // was stored and confirmed stands) nor when the lock is lost (nothing more may be written).
      const keep = !this.staged && !this.saveFailed && !signal?.aborted
      if (keep && !this.failure) await this.storeRest().catch((e) => debug('%s: keeping the rest failed: %s', id, (e as Error)?.message))
      // Nothing goes on once this rejects. Parts before a failed one may still finish and count (parts after it
      // were aborted when it failed); when nothing more may be written, every part in flight is aborted.
      if (!keep) for (const f of this.flights) if (!f.settled) f.controller.abort()
      await this.drain()
      await this.flush()
      throw err
    }
    const { stage, end } = this
    if (stage && end > offset) {
      state.stage = stage
      await this.store.save(id, this.loaded, false)
      await this.store.s3.deleteQuietly(this.garbage)
    }
    debug('%s: %d bytes at %d%s (%d parts)', id, end - offset, offset, this.staged ? ' staged' : '', state.parts.length)
    return end
  }

  private take(): Buffer {
    const reused = this.pool.pop()
    if (reused) return reused
    return this.store.allocate(this.partSize)
  }

  private notify(): void {
    const woken = this.waiters
    this.waiters = []
    for (const wake of woken) wake()
  }

  private settled(): Promise<void> {
    return new Promise((resolve) => this.waiters.push(resolve))
  }

  /** S3 failed: parts after `after` are aborted (they never count); those before it may still be confirmed. */
  private fail(err: unknown, after: number): void {
    this.failure ??= { err }
    for (const f of this.flights) if (f.n > after && !f.settled) f.controller.abort()
    this.notify()
  }

  private async call<T>(fn: () => Promise<T>): Promise<T> {
    this.signal?.throwIfAborted()
    try {
      return await fn()
    } catch (err) {
      this.fail(err, 0)
      throw err
    }
  }

  /**
   * Writes the state with the parts confirmed so far: at once when no state write started in the last
   * STATE_INTERVAL_MS, else when that much time has passed since the last one started, and always before the
   * write resolves or rejects (flush). Parts confirmed since the last state write are lost with the process (the
   * client sends them again); none was acknowledged.
   */
  private persist(now = false): void {
    if (this.stage) return
    this.dirty = true
    const wait = this.lastSave + STATE_INTERVAL_MS - performance.now()
    if (!now && wait > 0) {
      this.timer ??= setTimeout(() => {
        this.timer = undefined
        if (this.dirty) this.persist(true)
      }, wait)
      return
    }
    clearTimeout(this.timer)
    this.timer = undefined
    if (this.saveQueued) return
    this.saveQueued = true
    this.saves = this.saves.then(async () => {
      this.saveQueued = false
      if (this.saveFailed || this.signal?.aborted) return
      this.dirty = false
      this.lastSave = performance.now()
      try {
        await this.store.save(this.id, this.loaded, true)
      } catch (err) {
        this.saveFailed = true
        this.fail(err, 0)
        return
      }
      const keys = this.garbage
      this.garbage = []
      await this.store.s3.deleteQuietly(keys)
    })
  }

  /** Writes what persist() deferred, and waits for every state write. */
  private async flush(): Promise<void> {
    if (this.dirty) this.persist(true)
    await this.saves
  }

  /** Records the parts that ended, in order, up to the first that is still in flight or failed. */
  private confirm(): void {
    const { flights, stage, state } = this
    let recorded = false
    while (flights.length > 0 && flights[0].settled && flights[0].etag !== undefined) {
      const f = flights.shift()!
      const part = { n: f.n, size: f.size, etag: f.etag! }
      recorded = true
      if (stage) {
        stage.parts.push(part)
        continue
      }
      state.parts.push(part)
      if (state.tail) this.garbage.push(state.tail.key)
      state.tail = undefined
    }
    if (recorded) this.persist()
  }

  /** Waits until no part is in flight (every one recorded, or failed, or aborted). */
  private async drain(): Promise<void> {
    while (this.flights.some((f) => !f.settled)) await this.settled()
  }

  /** Sends the buffer's first `size` bytes as the next part, once fewer than partConcurrency parts are unrecorded. */
  private async sendPart(size: number): Promise<void> {
    const { signal, state, id, store } = this
    // Backpressure: the body is not read while the window is full and the next part is ready.
    while (this.flights.length >= this.window && !this.failure && !signal?.aborted) await this.settled()
    signal?.throwIfAborted()
    if (this.failure) throw this.failure.err
    const n = this.nextNumber
    if (n > S3_MAX_PARTS) throw new TusError('MAX_SIZE_EXCEEDED')
    let mpu = state.mpu
    if (!mpu) {
      const created = await this.call(() => store.s3.send(new store.s3.sdk.CreateMultipartUploadCommand({ Bucket: store.s3.bucket, Key: store.key(id) }), signal))
      // Recorded with the first part: a crash before leaves an unnamed multipart upload, aborted by remove().
      mpu = state.mpu = created.UploadId as string
    }
    signal?.throwIfAborted()
    this.nextNumber++
    const bytes = this.buffer!
    this.buffer = undefined
    this.pendingSize = 0
    this.fresh = 0
    const flight: Flight = { n, size, controller: new AbortController(), settled: false }
    this.flights.push(flight)
    const onAbort = (): void => flight.controller.abort(signal!.reason)
    signal?.addEventListener('abort', onAbort, { once: true })
    store.s3.uploadPart(id, store.key(id), mpu, n, bytes.subarray(0, size), flight.controller.signal).then(
      (etag) => {
        flight.etag = etag
      },
      (err) => {
        flight.error = err ?? new Error(`S3Store: UploadPart ${n} failed`)
      },
    ).finally(() => {
      signal?.removeEventListener('abort', onAbort)
      flight.settled = true
      this.pool.push(bytes)
      if (flight.error !== undefined) this.fail(flight.error, n)
      this.confirm()
      this.notify()
    })
  }

  /** Waits for the parts in flight and the state writes; rejects with the first S3 failure. */
  private async settle(): Promise<void> {
    await this.drain()
    await this.flush()
    if (this.failure) throw this.failure.err
  }

  /** Stores what is pending: as the last part when it ends the upload, else as the new tail. */
  private async storeRest(): Promise<void> {
    const { stage, state, store, signal } = this
    if (this.fresh > 0 && !stage && state.mpu && state.upload.length !== undefined && this.end === state.upload.length) {
      await this.sendPart(this.pendingSize)
      return this.settle()
    }
    // The tail comes after every part: the offset is the run of parts, then the tail. One state write names both
    // (the old tail is deleted only after it); a state write that failed (another writer changed the state)
    // stops the tail from being stored at all.
    await this.drain()
    await this.saves
    if (this.failure) throw this.failure.err
    if (this.fresh === 0) return this.settle()
    const key = store.tailKey(this.id)
    const bytes = this.buffer!.subarray(0, this.pendingSize)
    await this.call(() =>
      store.s3.send(store.s3.bytesCommand(new store.s3.sdk.PutObjectCommand({ Bucket: store.s3.bucket, Key: key, Body: bytes, ContentLength: bytes.length })), signal),
    )
    const tail = { key, size: bytes.length }
    this.pendingSize = 0
    this.fresh = 0
    if (stage) {
      stage.tail = tail
      return
    }
    if (state.tail) this.garbage.push(state.tail.key)
    state.tail = tail
    this.persist()
    await this.settle()
  }
}
