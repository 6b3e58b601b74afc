/**
 * The one place that reads a request body. It hands chunks to a store as an async iterable, with
 * backpressure (the request is paused while the store is behind), a byte limit, an idle timeout, and a way
 * for the lock holder to be asked to stop. It never throws into the store: the iterable simply ends, and
 * `stopReason` tells why, so a store keeps every byte it was given (spec: core, PATCH: store as much as possible).
 */
import type { IncomingMessage } from 'node:http'

export type StopReason =
  | 'end' // the whole body arrived
  | 'aborted' // the client went away mid-body
  | 'overflow' // the body ran past the limit (nothing past the limit is handed out)
  | 'timeout' // no byte arrived for `idleTimeout` ms
  | 'released' // another request for the same upload asked this one to let go
  | 'lost' // the request lost its upload's lock: what was not handed out yet is dropped

export interface BodyOptions {
  /** Most bytes the body may carry; a body that runs past it ends with 'overflow'. */
  limit: number
  /** Milliseconds without a byte before the body ends with 'timeout'; 0 disables. */
  idleTimeout: number
  /** Called with each chunk before it is handed out (checksums). */
  onChunk?: (chunk: Buffer) => void
  /** Called at most every `progressInterval` ms with the bytes handed out so far. */
  onProgress?: (bytes: number) => void
  progressInterval?: number
}

/**
 * Queue this many bytes, or this many chunks, before pausing the socket: peak memory per upload, whatever the
 * chunks' sizes (a body of 1-byte chunks would otherwise queue a million Buffer objects, each holding on to
 * the socket's read buffer it was cut from). The store drains the queue in batches.
 */
const HIGH_WATER = 1024 * 1024
const MAX_CHUNKS = 1024
/**
 * Chunks smaller than this are copied into a buffer of COLLECT_SIZE instead of being queued or handed out one
 * by one: a tiny chunk is a view of the socket's read buffer, and queued it would keep that alive (and,
 * surviving a young-generation collection, be promoted), while handed out one by one a body of 1-byte chunks
 * costs the store a write (and a promise or two) per byte. Every chunk parsed from one socket read is
 * collected before a waiting store gets them, in one buffer: a body of 1-byte chunks then costs what a body of
 * 64 KiB chunks does.
 */
const SMALL_CHUNK = 4096
const COLLECT_SIZE = 64 * 1024

export class BodyReader implements AsyncIterable<Buffer> {
  /** Bytes handed out to the consumer. */
  bytes = 0
  stopReason: StopReason | undefined
  private readonly queue: Buffer[] = []
  private queued = 0
  private received = 0
  private waiter: ((r: IteratorResult<Buffer>) => void) | undefined
  private timer: NodeJS.Timeout | undefined
  private lastProgress = 0
  /** The socket is paused because the queue is full. */
  private pausedByUs = false
  /**
   * Small chunks copied together, not queued yet (see SMALL_CHUNK). The buffer is this reader's own and is
   * reused: what is handed out is a copy of exactly the bytes collected, so that no 64 KiB buffer per hand-over
   * waits for a full garbage collection to be freed.
   */
  private collected: Buffer | undefined
  private collectedLength = 0
  /** A hand-over of what was collected to a waiting consumer is scheduled. */
  private handing = false
  private readonly req: IncomingMessage
  private readonly opts: BodyOptions

  constructor(req: IncomingMessage, opts: BodyOptions) {
    this.req = req
    this.opts = opts
    // `complete` only says the parser has seen the whole message; buffered bytes may still be unread.
    if (req.readableEnded) {
      this.finish('end')
      return
    }
    // The client went away before the body was looked at (while the lock or the store was awaited): 'close'
    // has already fired and will not again.
    if (req.destroyed) {
      this.finish('aborted')
      return
    }
    req.on('data', this.onData)
    req.on('end', this.onEnd)
    req.on('error', this.onAbort)
    req.on('close', this.onClose)
    this.armTimer()
    if (req.isPaused()) req.resume()
  }

  /**
   * Ask the reader to stop: after a takeover ('released') the iterable ends after the chunks already queued;
   * after a lost lock ('lost') it ends at once, and the queued chunks are dropped.
   */
  stop(reason: 'released' | 'lost'): void {
    this.finish(reason)
    if (reason === 'lost') {
      this.queue.length = 0
      this.queued = 0
      this.collectedLength = 0
    }
  }

  [Symbol.asyncIterator](): AsyncIterator<Buffer> {
    return { next: () => this.next(), return: async () => (this.finish('released'), { done: true, value: undefined }) }
  }

  /**
   * Takes every chunk already received and not yet handed out, at once (possibly none), so that a store can
   * write them with one call instead of one per chunk. Counts as handing them out.
   */
  takeBuffered(): Buffer[] {
    this.flushCollected()
    const taken = this.queue.splice(0)
    for (const chunk of taken) this.bytes += chunk.length
    this.queued = 0
    if (taken.length > 0) this.resume()
    return taken
  }

  private next(): Promise<IteratorResult<Buffer>> {
    this.reportProgress()
    if (this.queue.length === 0) this.flushCollected()
    const chunk = this.queue.shift()
    if (chunk) {
      this.queued -= chunk.length
      this.bytes += chunk.length
      if (this.queued < HIGH_WATER / 2 && this.queue.length < MAX_CHUNKS / 2) this.resume()
      return Promise.resolve({ done: false, value: chunk })
    }
    if (this.stopReason !== undefined) return Promise.resolve({ done: true, value: undefined })
    return new Promise((resolve) => (this.waiter = resolve))
  }

  private readonly onData = (chunk: Buffer): void => {
    if (this.stopReason !== undefined) return
    this.received += chunk.length
    if (this.received > this.opts.limit) {
      // Nothing past the limit is handed out: the crossing chunk is dropped whole, and the request is refused.
      this.finish('overflow')
      return
    }
    this.armTimer()
    this.opts.onChunk?.(chunk)
    if (chunk.length < SMALL_CHUNK) {
      this.collect(chunk)
      // After every chunk of this socket read has been parsed.
      if (this.waiter && !this.handing) {
        this.handing = true
        queueMicrotask(this.handOver)
      }
      return
    }
    // A waiting consumer with nothing collected for it takes the chunk as it is.
    const waiter = this.waiter
    if (waiter && this.collectedLength === 0) {
      this.waiter = undefined
      this.bytes += chunk.length
      waiter({ done: false, value: chunk })
      return
    }
    this.flushCollected()
    this.enqueue(chunk)
    if (waiter) this.handOver()
  }

  /** Gives a waiting consumer the first chunk of what was queued or collected. */
  private readonly handOver = (): void => {
    this.handing = false
    const waiter = this.waiter
    if (!waiter) return
    this.flushCollected()
    const chunk = this.queue.shift()
    if (!chunk) return
    this.waiter = undefined
    this.queued -= chunk.length
    this.bytes += chunk.length
    waiter({ done: false, value: chunk })
  }

  private enqueue(chunk: Buffer): void {
    this.queue.push(chunk)
    this.queued += chunk.length
    if (this.queued >= HIGH_WATER || this.queue.length >= MAX_CHUNKS) this.pause()
  }

  /** Copies a small chunk into the collecting buffer, queueing the buffer once it is full. */
  private collect(chunk: Buffer): void {
    if (this.collectedLength + chunk.length > COLLECT_SIZE) this.flushCollected()
    const into = (this.collected ??= Buffer.allocUnsafe(COLLECT_SIZE))
    if (chunk.length === 1) into[this.collectedLength] = chunk[0]
    else chunk.copy(into, this.collectedLength)
    this.collectedLength += chunk.length
  }

  private flushCollected(): void {
    if (this.collectedLength === 0) return
    const bytes = Buffer.from(this.collected!.subarray(0, this.collectedLength))
    this.collectedLength = 0
    this.enqueue(bytes)
  }

  /**
   * Backpressure: the store is behind. The idle timeout does not run meanwhile: the client is not the one
   * stalling (a slow store must not turn a client sending at full speed into a 408).
   */
  private pause(): void {
    this.req.pause()
    this.pausedByUs = true
    if (this.timer) clearTimeout(this.timer)
    this.timer = undefined
  }

  private resume(): void {
    if (!this.pausedByUs || this.stopReason !== undefined) return
    this.pausedByUs = false
    this.armTimer()
    this.req.resume()
  }

  private readonly onEnd = (): void => this.finish('end')
  private readonly onAbort = (): void => this.finish('aborted')
  /** A close before 'end' means the stream was torn down: what was not handed out is gone. */
  private readonly onClose = (): void => this.finish(this.req.readableEnded ? 'end' : 'aborted')

  private armTimer(): void {
    if (this.opts.idleTimeout <= 0) return
    if (this.timer) this.timer.refresh()
    else this.timer = setTimeout(() => this.finish('timeout'), this.opts.idleTimeout)
  }

  private reportProgress(): void {
    const { onProgress, progressInterval = 0 } = this.opts
    if (!onProgress) return
    const now = Date.now()
    if (now - this.lastProgress < progressInterval) return
    this.lastProgress = now
    if (this.bytes > 0) onProgress(this.bytes)
  }

  private finish(reason: StopReason): void {
    if (this.stopReason !== undefined) return
    this.stopReason = reason
    if (this.timer) clearTimeout(this.timer)
    const { req } = this
    req.off('data', this.onData)
    req.off('end', this.onEnd)
    req.off('close', this.onClose)
    // Keep an error listener: a socket error after we stop listening must not become an uncaught exception.
    if (reason !== 'end') req.pause()
    // A waiting consumer first gets what was collected for it (a body's last small chunks and its end can
    // come in one socket read); the next call ends the iteration.
    if (this.waiter && reason !== 'lost') this.handOver()
    const waiter = this.waiter
    this.waiter = undefined
    waiter?.({ done: true, value: undefined })
  }
}

/**
 * Whether the request says it carries a body: a non-zero Content-Length, or a chunked one. HTTP/2 frames a
 * body without either (RFC 9113, 8.1): there, a request without Content-Length has one unless its HEADERS
 * frame ended the stream.
 */
export function declaresBody(req: IncomingMessage, contentLength: number | undefined): boolean {
  if ((contentLength ?? 0) > 0 || req.headers['transfer-encoding'] !== undefined) return true
  if (req.httpVersionMajor < 2 || contentLength !== undefined) return false
  return (req as { stream?: { endAfterHeaders?: boolean } }).stream?.endAfterHeaders === false
}

/**
 * True when something in front of the middleware (a body parser) already consumed a body that had bytes.
 * body-parser marks requests it read with `_body`.
 */
export function bodyWasConsumed(req: IncomingMessage, contentLength: number | undefined): boolean {
  return declaresBody(req, contentLength) && ((req as { _body?: unknown })._body === true || req.readableEnded)
}
