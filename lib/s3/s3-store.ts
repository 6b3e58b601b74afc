/**
 * S3Store: uploads in an S3 bucket (AWS S3, Ceph RGW, MinIO, R2, B2...), one multipart upload per upload.
 *
 * Objects, under `prefix` (ids never start with a dot, so `.tus/` never meets an upload's own key):
 *   <prefix><id>                      the upload's bytes once it is finished (the multipart upload's key)
 *   <prefix>.tus/info/<id>            its state, JSON: the record, the multipart upload id, the confirmed parts
 *                                     (number, size, ETag), the tail object, a staged write, the fence
 *   <prefix>.tus/tails/<id>/<random>  the tail: stored bytes after the last part, fewer than a part
 *   <prefix>.tus/links/<id>/<final>   final uploads waiting for this part (empty objects, no lock needed)
 *
 * The offset is the run of confirmed parts plus the tail, all read from the state object: a HEAD or the start of
 * a PATCH is one GetObject, whatever the part count; ListParts is never used. Every part but the last is exactly
 * the upload's part size (R2 needs that; it also bounds the part count, checked against 10,000 when the upload
 * is created). Bytes are stored first, then the state that names them (conditionally, If-Match on the ETag read),
 * then what the state no longer names is deleted: a process killed between any two S3 calls leaves either the
 * old or the new state, and objects no state names are garbage that finish() and remove() delete.
 *
 * Parts are pipelined: while parts upload (at most `partConcurrency` at a time), the body goes on being read into
 * the next part's buffer; when that buffer is full and the window is full, the body is not read (backpressure).
 * Parts are recorded in part-number order only, so the state never counts a part after one that has not ended
 * well; when a part fails, the parts after it are aborted and never count. Memory per PATCH: at most
 * (partConcurrency + 1) × partSize of part buffers, reused for the whole PATCH, plus the tail read back.
 */
import { randomBytes } from 'node:crypto'
import { Readable } from 'node:stream'
import type { S3Client, S3ClientConfig } from '@aws-sdk/client-s3'
import createDebug from 'debug'
import { TusError } from '../errors.js'
import type { ByteRange, DataStore, StoreCapability, UploadChanges, WriteOptions } from '../stores/data-store.js'
import { isValidId } from '../stores/ids.js'
import type { NewUpload, Upload } from '../upload.js'
import { loadS3, type S3Module } from './load.js'

const debug = createDebug('tus-middleware:s3')

const MiB = 1024 * 1024
/** S3's limits: parts of 5 MiB to 5 GiB (but the last), at most 10,000 of them, objects of at most 5 TiB. */
export const S3_MIN_PART_SIZE = 5 * MiB
export const S3_MAX_PART_SIZE = 5 * 1024 * MiB
export const S3_MAX_PARTS = 10_000
export const S3_MAX_OBJECT_SIZE = 5 * 1024 * 1024 * MiB
/** How far the bucket's clock may be from ours, for idle(): objects this much newer are still read. */
const CLOCK_SKEW_MS = 60_000

export interface S3StoreOptions {
  /** The bucket (it must exist). */
  bucket: string
  /**
   * An S3Client, or the options to make one. A client made here gets `requestChecksumCalculation` and
   * `responseChecksumValidation` 'WHEN_REQUIRED' unless the options say otherwise.
   */
  client: S3Client | S3ClientConfig
  /** Put before every key, e.g. 'uploads/'. Default ''. */
  prefix?: string
  /** Bytes per part, 5 MiB to 5 GiB; grown for uploads that would need more than 10,000 parts. Default 8 MiB. */
  partSize?: number
  /**
   * The largest upload of deferred length: its part size is chosen so that it fits in 10,000 parts. Set it to the
   * middleware's maxSize: with the default (S3's 5 TiB object limit) deferred uploads use 525 MiB parts, and up
   * to partConcurrency + 1 parts are buffered in memory per PATCH.
   */
  maxSize?: number
  /**
   * Write the state object with If-None-Match (creation) and If-Match (every change), so that two writers
   * cannot both change an upload. Default true; set false for a service that refuses these headers.
   */
  conditionalWrites?: boolean
  /** Concatenate with UploadPartCopy when every part but the last has 5 MiB or more. Default true. */
  copyParts?: boolean
  /**
   * Parts of one PATCH uploaded at the same time, 1 to 64, while the body goes on being read into the next part.
   * Memory per PATCH is at most (partConcurrency + 1) × partSize (40 MiB with the defaults). An S3Client passed
   * in must allow that many sockets to the endpoint (the SDK's default handler allows 50) and should not add
   * checksums (`requestChecksumCalculation: 'WHEN_REQUIRED'`), which cost CPU on every part. Default 4.
   */
  partConcurrency?: number
  /**
   * Sign the bytes of parts and tails (SigV4 then hashes each with SHA-256 in this process's thread, which costs
   * more CPU than receiving them). Default false: they are sent as UNSIGNED-PAYLOAD, as the SDK does for streams;
   * the request (its headers, Content-Length) is still signed. Set true for plain HTTP to an endpoint over a
   * network where the bytes could be altered in transit (HTTPS protects them either way).
   */
  signPayload?: boolean
  /** Only for tests: the module name to load instead of '@aws-sdk/client-s3'. */
  sdkModule?: string
}

interface Part {
  /** Part number, 1.. */
  n: number
  size: number
  etag: string
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

interface Tail {
  key: string
  size: number
}

interface Stage {
  offset: number
  /** Parts the stage uploaded, numbered after the confirmed ones; the first holds the confirmed tail's bytes. */
  parts: Part[]
  /** The tail the stage leaves (which starts with the confirmed tail's bytes when the stage made no part). */
  tail?: Tail
}

interface State {
  v: 1
  upload: Omit<Upload, 'offset'>
  partSize: number
  /** The multipart upload, created with the first part. */
  mpu?: string
  parts: Part[]
  tail?: Tail
  stage?: Stage
  fence?: number
  /** Set once `<prefix><id>` holds all the bytes: their count. */
  finished?: number
}

interface Loaded {
  state: State
  etag?: string
}

const isNotFound = (err: unknown): boolean => {
  const e = err as { name?: string; Code?: string; $metadata?: { httpStatusCode?: number } }
  return e?.name === 'NoSuchKey' || e?.name === 'NotFound' || e?.name === 'NoSuchUpload' || e?.$metadata?.httpStatusCode === 404
}
const isPreconditionFailed = (err: unknown): boolean => {
  const e = err as { name?: string; $metadata?: { httpStatusCode?: number } }
  return e?.name === 'PreconditionFailed' || e?.$metadata?.httpStatusCode === 412
}

/** The offset the state stands for: the unbroken run of parts from 1, then the tail (only after an unbroken run). */
export function offsetOf(state: State): number {
  if (state.finished !== undefined) return state.finished
  let offset = 0
  for (const [i, part] of state.parts.entries()) {
    if (part.n !== i + 1) return offset
    offset += part.size
  }
  return offset + (state.tail?.size ?? 0)
}

const lockLost = (why: string): TusError => new TusError('LOCK_LOST', `The request lost its hold on the upload (${why}); ask for the offset and retry`)

export class S3Store implements DataStore {
  readonly capabilities: readonly StoreCapability[] = ['termination', 'read', 'concatenation', 'expiration']
  readonly bucket: string
  readonly prefix: string
  readonly partSize: number
  readonly maxSize: number
  readonly client: S3Client
  private readonly sdk: S3Module
  private readonly conditional: boolean
  private readonly copyParts: boolean
  readonly partConcurrency: number
  private readonly signPayload: boolean
  /** @internal Part buffers write() has allocated so far (they are reused within one write): for tests. */
  partBuffersAllocated = 0
  /** Ceph RGW 16 matches If-Match only against an unquoted ETag; learnt at the first refusal that is not a conflict. */
  private unquotedIfMatch = false

  constructor(options: S3StoreOptions) {
    if (!options || typeof options.bucket !== 'string' || options.bucket === '') throw new TypeError('S3Store: option "bucket" must be a bucket name')
    if (!options.client || typeof options.client !== 'object') throw new TypeError('S3Store: option "client" must be an S3Client or its options')
    const partSize = options.partSize ?? 8 * MiB
    if (!Number.isSafeInteger(partSize) || partSize < S3_MIN_PART_SIZE || partSize > S3_MAX_PART_SIZE) {
      throw new TypeError('S3Store: option "partSize" must be an integer from 5 MiB to 5 GiB')
    }
    const maxSize = options.maxSize ?? S3_MAX_OBJECT_SIZE
    if (!Number.isSafeInteger(maxSize) || maxSize < 0 || maxSize > S3_MAX_OBJECT_SIZE) {
      throw new TypeError('S3Store: option "maxSize" must be an integer from 0 to 5 TiB')
    }
    const partConcurrency = options.partConcurrency ?? 4
    if (!Number.isSafeInteger(partConcurrency) || partConcurrency < 1 || partConcurrency > 64) {
      throw new TypeError('S3Store: option "partConcurrency" must be an integer from 1 to 64')
    }
    this.partConcurrency = partConcurrency
    this.signPayload = options.signPayload ?? false
    this.sdk = loadS3(options.sdkModule)
    this.bucket = options.bucket
    this.prefix = options.prefix ?? ''
    this.partSize = partSize
    this.maxSize = maxSize
    this.conditional = options.conditionalWrites ?? true
    this.copyParts = options.copyParts ?? true
    const client = options.client as Partial<S3Client>
    this.client =
      typeof client.send === 'function'
        ? (options.client as S3Client)
        : new this.sdk.S3Client({ requestChecksumCalculation: 'WHEN_REQUIRED', responseChecksumValidation: 'WHEN_REQUIRED', ...(options.client as S3ClientConfig) })
  }

  /** The part size for an upload of `length` bytes (or of deferred length): at most 10,000 parts, whole MiB. */
  partSizeFor(length: number | undefined): number {
    const need = Math.ceil((length ?? this.maxSize) / S3_MAX_PARTS)
    return need <= this.partSize ? this.partSize : Math.ceil(need / MiB) * MiB
  }

  async create(upload: NewUpload): Promise<Upload> {
    if (!isValidId(upload.id)) throw new TusError('INVALID_ID')
    if (upload.length !== undefined && upload.length > S3_MAX_OBJECT_SIZE) throw new TusError('MAX_SIZE_EXCEEDED')
    const state: State = {
      v: 1,
      upload: { ...structuredClone(upload), updatedAt: new Date().toISOString() },
      partSize: this.partSizeFor(upload.length),
      parts: [],
    }
    if (!this.conditional && (await this.load(upload.id))) throw new TusError('ID_TAKEN')
    await this.save(upload.id, { state }, 'create')
    return this.view(state)
  }

  async get(id: string): Promise<Upload | undefined> {
    const loaded = await this.load(id)
    return loaded && this.view(loaded.state)
  }

  async write(id: string, offset: number, body: AsyncIterable<Buffer>, options: WriteOptions = {}): Promise<number> {
    const loaded = await this.must(id)
    const { state } = loaded
    const { signal, fence } = options
    this.checkFence(state, fence)
    if (offset !== offsetOf(state)) throw new TusError('OFFSET_MISMATCH')
    if (state.finished !== undefined) {
      for await (const chunk of body) if (chunk.length > 0) throw new TusError('BODY_EXCEEDS_LENGTH')
      return offset
    }
    /** Objects to delete once the state no longer names them. */
    let garbage: string[] = []
    // A stage a dead writer left: dropped (with the next state written), its tail deleted after that.
    if (state.stage) {
      if (state.stage.tail) garbage.push(state.stage.tail.key)
      state.stage = undefined
    }
    if (fence !== undefined && (state.fence === undefined || fence > state.fence)) state.fence = fence
    const staged = options.staged === true
    const stage: Stage | undefined = staged ? { offset, parts: [] } : undefined
    const partSize = state.partSize
    const window = this.partConcurrency
    /**
     * Part buffers, reused: the one being filled and one per part in flight, so at most partConcurrency + 1 of
     * `partSize` per write. A part's buffer comes back when its upload ends (the bytes are then in S3, or never).
     */
    const pool: Buffer[] = []
    const take = (): Buffer => {
      const reused = pool.pop()
      if (reused) return reused
      this.partBuffersAllocated++
      return Buffer.allocUnsafe(partSize)
    }
    /** The part being filled: the confirmed tail's bytes once read back, then new ones. */
    let buffer: Buffer | undefined
    let pendingSize = 0
    /** New bytes in the buffer. */
    let fresh = 0
    let tailRead = false
    let end = offset
    /** Set when S3 failed (a part, a tail, the state): what was stored and confirmed stands, nothing more is stored. */
    let failure: { err: unknown } | undefined
    /** Set when the state could not be written: then not even confirmed parts are recorded any more. */
    let saveFailed = false
    let nextNumber = state.parts.length + 1
    /** Parts sent and not yet recorded, in part-number order (at most partConcurrency). */
    const flights: Flight[] = []
    let waiters: (() => void)[] = []
    const notify = (): void => {
      const woken = waiters
      waiters = []
      for (const wake of woken) wake()
    }
    const settled = (): Promise<void> => new Promise((resolve) => waiters.push(resolve))

    /** S3 failed: parts after `after` are aborted (they never count); those before it may still be confirmed. */
    const fail = (err: unknown, after: number): void => {
      failure ??= { err }
      for (const f of flights) if (f.n > after && !f.settled) f.controller.abort()
      notify()
    }
    const s3 = async <T>(fn: () => Promise<T>): Promise<T> => {
      signal?.throwIfAborted()
      try {
        return await fn()
      } catch (err) {
        fail(err, 0)
        throw err
      }
    }
    /**
     * State writes, one at a time, in the order of the changes: each writes the state as it is when it starts,
     * so changes made while one runs are written together by the next.
     */
    let saves: Promise<void> = Promise.resolve()
    let saveQueued = false
    const persist = (): void => {
      if (stage || saveQueued) return
      saveQueued = true
      saves = saves.then(async () => {
        saveQueued = false
        if (saveFailed || signal?.aborted) return
        try {
          await this.save(id, loaded, 'change', true)
        } catch (err) {
          saveFailed = true
          fail(err, 0)
          return
        }
        const keys = garbage
        garbage = []
        await this.deleteQuietly(keys)
      })
    }
    /** Records the parts that ended, in order, up to the first that is still in flight or failed. */
    const confirm = (): void => {
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
        if (state.tail) garbage.push(state.tail.key)
        state.tail = undefined
      }
      if (recorded) persist()
    }
    /** Waits until no part is in flight (every one recorded, or failed, or aborted). */
    const drain = async (): Promise<void> => {
      while (flights.some((f) => !f.settled)) await settled()
    }
    /** Sends the buffer's first `size` bytes as the next part, once fewer than partConcurrency parts are unrecorded. */
    const sendPart = async (size: number): Promise<void> => {
      // Backpressure: the body is not read while the window is full and the next part is ready.
      while (flights.length >= window && !failure && !signal?.aborted) await settled()
      signal?.throwIfAborted()
      if (failure) throw failure.err
      const n = nextNumber
      if (n > S3_MAX_PARTS) throw new TusError('MAX_SIZE_EXCEEDED')
      let mpu = state.mpu
      if (!mpu) {
        const created = await s3(() => this.send(new this.sdk.CreateMultipartUploadCommand({ Bucket: this.bucket, Key: this.key(id) }), signal))
        // Recorded with the first part: a crash before leaves an unnamed multipart upload, aborted by remove().
        mpu = state.mpu = created.UploadId as string
      }
      signal?.throwIfAborted()
      nextNumber++
      const bytes = buffer!
      buffer = undefined
      pendingSize = 0
      fresh = 0
      const flight: Flight = { n, size, controller: new AbortController(), settled: false }
      flights.push(flight)
      const onAbort = (): void => flight.controller.abort(signal!.reason)
      signal?.addEventListener('abort', onAbort, { once: true })
      this.uploadPart(id, mpu, n, bytes.subarray(0, size), flight.controller.signal).then(
        (etag) => {
          flight.etag = etag
        },
        (err) => {
          flight.error = err ?? new Error(`S3Store: UploadPart ${n} failed`)
        },
      ).finally(() => {
        signal?.removeEventListener('abort', onAbort)
        flight.settled = true
        pool.push(bytes)
        if (flight.error !== undefined) fail(flight.error, n)
        confirm()
        notify()
      })
    }
    /** Waits for the parts in flight and the state writes; rejects with the first S3 failure. */
    const settle = async (): Promise<void> => {
      await drain()
      await saves
      if (failure) throw failure.err
    }
    /** Stores what is pending: as the last part when it ends the upload, else as the new tail. */
    const storeRest = async (): Promise<void> => {
      if (fresh > 0 && !stage && state.mpu && state.upload.length !== undefined && end === state.upload.length) {
        await sendPart(pendingSize)
        return settle()
      }
      // The tail comes after every part: the offset is the run of parts, then the tail.
      await settle()
      if (fresh === 0) return
      const key = this.tailKey(id)
      const bytes = buffer!.subarray(0, pendingSize)
      await s3(() => this.send(this.bytesCommand(new this.sdk.PutObjectCommand({ Bucket: this.bucket, Key: key, Body: bytes, ContentLength: bytes.length })), signal))
      const tail = { key, size: bytes.length }
      pendingSize = 0
      fresh = 0
      if (stage) {
        stage.tail = tail
        return
      }
      if (state.tail) garbage.push(state.tail.key)
      state.tail = tail
      persist()
      await settle()
    }

    try {
      for await (const chunk of body) {
        signal?.throwIfAborted()
        if (failure) throw failure.err
        if (chunk.length === 0) continue
        if (!tailRead) {
          tailRead = true
          if (state.tail && state.tail.size > 0) {
            const tail = await s3(() => this.readObject(state.tail!.key, state.tail!.size, signal)).catch((err) => {
              // Only another writer deletes a tail the state names (after writing a state that no longer does).
              throw isNotFound(err) ? lockLost('its tail was replaced by another writer') : err
            })
            buffer = take()
            tail.copy(buffer)
            pendingSize = tail.length
          }
        }
        // Copied into the part: the socket's buffers are not ours to keep.
        for (let at = 0; at < chunk.length; ) {
          buffer ??= take()
          const n = chunk.copy(buffer, pendingSize, at)
          at += n
          pendingSize += n
          fresh += n
          end += n
          if (pendingSize === partSize) await sendPart(partSize)
        }
      }
      signal?.throwIfAborted()
      await storeRest()
    } catch (err) {
      // The body failed (the client went away): the bytes it gave count, once stored. Not when S3 failed (what
      // was stored and confirmed stands) nor when the lock is lost (nothing more may be written).
      const keep = !staged && !saveFailed && !signal?.aborted
      if (keep && !failure) await storeRest().catch((e) => debug('%s: keeping the rest failed: %s', id, (e as Error)?.message))
      // Nothing goes on once this rejects. Parts before a failed one may still finish and count (parts after it
      // were aborted when it failed); when nothing more may be written, every part in flight is aborted.
      if (!keep) for (const f of flights) if (!f.settled) f.controller.abort()
      await drain()
      await saves
      throw err
    }
    if (stage && end > offset) {
      state.stage = stage
      await this.save(id, loaded, 'change', false)
      await this.deleteQuietly(garbage)
    }
    debug('%s: %d bytes at %d%s (%d parts)', id, end - offset, offset, staged ? ' staged' : '', state.parts.length)
    return end
  }
  async commit(id: string, offset: number): Promise<number> {
    const loaded = await this.must(id)
    const { state } = loaded
    const { stage } = state
    if (!stage || stage.offset !== offset || offsetOf(state) !== offset) {
      if (stage && stage.offset === offset) {
        state.stage = undefined
        await this.save(id, loaded)
      }
      return offsetOf(state)
    }
    const garbage: string[] = []
    if (stage.parts.length > 0 || stage.tail) {
      if (state.tail) garbage.push(state.tail.key)
      state.tail = stage.tail
    }
    state.parts.push(...stage.parts)
    state.stage = undefined
    await this.save(id, loaded, 'change', true)
    await this.deleteQuietly(garbage)
    return offsetOf(state)
  }

  async discard(id: string, offset: number): Promise<void> {
    const loaded = await this.load(id)
    const stage = loaded?.state.stage
    if (!loaded || !stage || stage.offset !== offset) return
    loaded.state.stage = undefined
    await this.save(id, loaded)
    if (stage.tail) await this.deleteQuietly([stage.tail.key])
  }

  async finish(id: string): Promise<void> {
    const loaded = await this.must(id)
    const { state } = loaded
    if (state.finished !== undefined) return
    const size = offsetOf(state)
    if (state.upload.length !== size) throw new Error(`S3Store: finish() of ${id}: ${size} of ${state.upload.length} bytes stored`)
    const key = this.key(id)
    const oldTail = state.tail
    if (!state.mpu) {
      // Never more than one part: the tail (or nothing) becomes the object.
      const bytes = oldTail ? await this.readObject(oldTail.key, oldTail.size) : Buffer.alloc(0)
      await this.send(new this.sdk.PutObjectCommand({ Bucket: this.bucket, Key: key, Body: bytes, ContentLength: bytes.length }))
    } else {
      const parts = [...state.parts]
      try {
        if (oldTail && oldTail.size > 0) {
          // The tail becomes the last part (the last may be smaller than 5 MiB): byte-exact with deferred lengths.
          const bytes = await this.readObject(oldTail.key, oldTail.size)
          const n = parts.length + 1
          parts.push({ n, size: bytes.length, etag: await this.uploadPart(id, state.mpu, n, bytes) })
        }
        await this.send(
          new this.sdk.CompleteMultipartUploadCommand({
            Bucket: this.bucket,
            Key: key,
            UploadId: state.mpu,
            MultipartUpload: { Parts: parts.map((p) => ({ PartNumber: p.n, ETag: p.etag })) },
          }),
        )
      } catch (err) {
        // Finished before a crash kept us from recording it: the multipart upload is gone and the object whole.
        if (!isNotFound(err) || (await this.objectSize(key)) !== size) throw err
      }
    }
    state.finished = size
    state.mpu = undefined
    state.parts = []
    state.tail = undefined
    state.stage = undefined
    await this.save(id, loaded)
    // Whatever tails crashes left behind go too.
    await this.deleteQuietly(await this.list(this.tailsPrefix(id)))
    debug('%s: finished, %d bytes', id, size)
  }

  async update(id: string, changes: UploadChanges): Promise<Upload> {
    for (let attempt = 0; ; attempt++) {
      const loaded = await this.must(id)
      const { state } = loaded
      if (changes.length !== undefined && state.upload.length === undefined && changes.length > state.partSize * S3_MAX_PARTS) {
        throw new TusError('MAX_SIZE_EXCEEDED')
      }
      Object.assign(state.upload, structuredClone(changes))
      try {
        await this.save(id, loaded)
        return this.view(state)
      } catch (err) {
        // Changed meanwhile (a link, a sweep): the changes are applied again to what is there now.
        if (!(err instanceof TusError && err.code === 'LOCK_LOST') || attempt >= 2) throw err
      }
    }
  }

  async remove(id: string): Promise<void> {
    const { state } = await this.must(id)
    const key = this.key(id)
    const uploads = new Set<string>(state.mpu ? [state.mpu] : [])
    // Multipart uploads a crash left unnamed.
    let keyMarker: string | undefined
    let uploadIdMarker: string | undefined
    do {
      const page = await this.send(
        new this.sdk.ListMultipartUploadsCommand({ Bucket: this.bucket, Prefix: key, KeyMarker: keyMarker, UploadIdMarker: uploadIdMarker }),
      )
      for (const u of page.Uploads ?? []) if (u.Key === key && u.UploadId) uploads.add(u.UploadId)
      keyMarker = page.IsTruncated ? page.NextKeyMarker : undefined
      uploadIdMarker = page.IsTruncated ? page.NextUploadIdMarker : undefined
    } while (keyMarker)
    for (const uploadId of uploads) {
      await this.send(new this.sdk.AbortMultipartUploadCommand({ Bucket: this.bucket, Key: key, UploadId: uploadId })).catch((err) => {
        if (!isNotFound(err)) throw err
      })
    }
    const keys = [key, ...(await this.list(this.tailsPrefix(id))), ...(await this.list(this.linksPrefix(id)))]
    for (const k of keys) await this.send(new this.sdk.DeleteObjectCommand({ Bucket: this.bucket, Key: k }))
    // The state last: until it is gone, remove() can be run again.
    await this.send(new this.sdk.DeleteObjectCommand({ Bucket: this.bucket, Key: this.infoKey(id) }))
    debug('%s: removed', id)
  }

  /**
   * A finished upload's bytes: GetObject, the range passed on. An unfinished one is readable while it has no
   * part (its bytes are in the tail); S3 cannot read the parts of a multipart upload before it completes, so
   * then this rejects with TusError('READ_UNFINISHED', 409).
   */
  async read(id: string, range?: ByteRange): Promise<Readable> {
    const { state } = await this.must(id)
    if (state.finished !== undefined) {
      if (state.finished === 0 || (range && range.end < range.start)) return Readable.from([])
      const res = await this.send(
        new this.sdk.GetObjectCommand({ Bucket: this.bucket, Key: this.key(id), Range: range ? `bytes=${range.start}-${range.end}` : undefined }),
      )
      return res.Body as Readable
    }
    if (state.parts.length > 0) {
      throw new TusError('READ_UNFINISHED', 'This upload can be read once it is complete (S3 cannot read the parts of a multipart upload)', 409)
    }
    const tail = state.tail
    if (!tail || tail.size === 0) return Readable.from([])
    const start = range?.start ?? 0
    const last = Math.min(range?.end ?? tail.size - 1, tail.size - 1)
    if (last < start) return Readable.from([])
    const res = await this.send(new this.sdk.GetObjectCommand({ Bucket: this.bucket, Key: tail.key, Range: `bytes=${start}-${last}` }))
    return res.Body as Readable
  }

  /**
   * Assembles the parts' objects into a new multipart upload of this upload's key: UploadPartCopy (server-side)
   * when every part but the last has 5 MiB or more, else the bytes copied through this process one part at a
   * time. The state changes only once the object is complete: all or nothing.
   */
  async concatenate(id: string, parts: readonly string[]): Promise<Upload> {
    const loaded = await this.must(id)
    const sources: { key: string; size: number }[] = []
    for (const partId of parts) {
      let found = await this.load(partId)
      if (found && found.state.finished === undefined && found.state.upload.length === offsetOf(found.state)) {
        await this.finish(partId)
        found = await this.load(partId)
      }
      if (!found || found.state.finished === undefined) throw new TusError('CONCAT_PART_GONE')
      if (found.state.finished > 0) sources.push({ key: this.key(partId), size: found.state.finished })
    }
    const total = sources.reduce((sum, s) => sum + s.size, 0)
    const key = this.key(id)
    try {
      if (total <= loaded.state.partSize) {
        const bytes = Buffer.concat(await Promise.all(sources.map((s) => this.readObject(s.key, s.size))), total)
        await this.send(new this.sdk.PutObjectCommand({ Bucket: this.bucket, Key: key, Body: bytes, ContentLength: bytes.length }))
      } else if (this.copyParts && sources.slice(0, -1).every((s) => s.size >= S3_MIN_PART_SIZE)) {
        await this.multipart(key, async (mpu) => {
          const out: Part[] = []
          for (const source of sources) {
            // A part over 5 GiB is copied in ranges of at most 5 GiB, each but the last at least 5 MiB.
            for (let start = 0; start < source.size; start += S3_MAX_PART_SIZE) {
              const last = Math.min(start + S3_MAX_PART_SIZE, source.size) - 1
              const n = out.length + 1
              if (n > S3_MAX_PARTS) throw new TusError('MAX_SIZE_EXCEEDED')
              const res = await this.send(
                new this.sdk.UploadPartCopyCommand({
                  Bucket: this.bucket,
                  Key: key,
                  UploadId: mpu,
                  PartNumber: n,
                  CopySource: `${this.bucket}/${encodeURIComponent(source.key).replace(/%2F/g, '/')}`,
                  CopySourceRange: source.size > S3_MAX_PART_SIZE ? `bytes=${start}-${last}` : undefined,
                }),
              )
              out.push({ n, size: last - start + 1, etag: res.CopyPartResult!.ETag! })
            }
          }
          return out
        })
      } else {
        const partSize = Math.max(loaded.state.partSize, this.partSizeFor(total))
        await this.multipart(key, async (mpu) => {
          const out: Part[] = []
          let pending: Buffer[] = []
          let size = 0
          const flush = async (bytes: number) => {
            const all = Buffer.concat(pending, size)
            const n = out.length + 1
            out.push({ n, size: bytes, etag: await this.uploadPart(id, mpu, n, all.subarray(0, bytes)) })
            const rest = all.subarray(bytes)
            pending = rest.length ? [rest] : []
            size = rest.length
          }
          for (const source of sources) {
            const res = await this.send(new this.sdk.GetObjectCommand({ Bucket: this.bucket, Key: source.key }))
            for await (const chunk of res.Body as Readable) {
              pending.push(chunk as Buffer)
              size += (chunk as Buffer).length
              while (size >= partSize) await flush(partSize)
            }
          }
          if (size > 0) await flush(size)
          return out
        })
      }
    } catch (err) {
      if (isNotFound(err)) throw new TusError('CONCAT_PART_GONE')
      throw err
    }
    const { state } = loaded
    const garbage = [state.tail?.key, state.stage?.tail?.key].filter((k): k is string => k !== undefined)
    if (state.mpu) {
      await this.send(new this.sdk.AbortMultipartUploadCommand({ Bucket: this.bucket, Key: key, UploadId: state.mpu })).catch(() => {})
    }
    Object.assign(state, { finished: total, mpu: undefined, parts: [], tail: undefined, stage: undefined })
    await this.save(id, loaded, 'change', true)
    await this.deleteQuietly(garbage)
    debug('%s: concatenated %d parts, %d bytes', id, parts.length, total)
    return this.view(state)
  }

  async link(partId: string, finalId: string): Promise<void> {
    if (!isValidId(partId) || !isValidId(finalId)) return
    await this.send(new this.sdk.PutObjectCommand({ Bucket: this.bucket, Key: `${this.linksPrefix(partId)}${finalId}`, Body: '', ContentLength: 0 }))
  }

  async linked(partId: string): Promise<string[]> {
    if (!isValidId(partId)) return []
    const prefix = this.linksPrefix(partId)
    return (await this.list(prefix)).map((key) => key.slice(prefix.length))
  }

  /**
   * Uploads idle since `before`: a listing of the state objects (LastModified, written with every change), then
   * a read of each that is old enough (with a minute's grace for the bucket's clock).
   */
  async *idle(before: number): AsyncIterable<Upload> {
    const prefix = `${this.prefix}.tus/info/`
    let token: string | undefined
    do {
      const page = await this.send(new this.sdk.ListObjectsV2Command({ Bucket: this.bucket, Prefix: prefix, ContinuationToken: token }))
      for (const object of page.Contents ?? []) {
        if (!object.Key || (object.LastModified && object.LastModified.getTime() >= before + CLOCK_SKEW_MS)) continue
        const upload = await this.get(object.Key.slice(prefix.length))
        if (upload && Date.parse(upload.updatedAt ?? upload.createdAt) < before) yield upload
      }
      token = page.IsTruncated ? page.NextContinuationToken : undefined
    } while (token)
  }

  // --- keys -------------------------------------------------------------------------------------------------

  /** Where a finished upload's bytes are. */
  key(id: string): string {
    return `${this.prefix}${id}`
  }

  infoKey(id: string): string {
    return `${this.prefix}.tus/info/${id}`
  }

  private tailsPrefix(id: string): string {
    return `${this.prefix}.tus/tails/${id}/`
  }

  private linksPrefix(id: string): string {
    return `${this.prefix}.tus/links/${id}/`
  }

  private tailKey(id: string): string {
    return `${this.tailsPrefix(id)}${randomBytes(8).toString('hex')}`
  }

  // --- state ------------------------------------------------------------------------------------------------

  private view(state: State): Upload {
    return { ...structuredClone(state.upload), offset: offsetOf(state) }
  }

  private checkFence(state: State, fence: number | undefined): void {
    if (fence !== undefined && state.fence !== undefined && fence < state.fence) throw lockLost(`fence ${fence} is older than ${state.fence}`)
  }

  private async load(id: string): Promise<Loaded | undefined> {
    if (!isValidId(id)) return undefined
    let res
    try {
      res = await this.send(new this.sdk.GetObjectCommand({ Bucket: this.bucket, Key: this.infoKey(id) }))
    } catch (err) {
      if (isNotFound(err)) return undefined
      throw err
    }
    const state = JSON.parse(await res.Body!.transformToString()) as State
    return { state, etag: res.ETag }
  }

  private async must(id: string): Promise<Loaded> {
    const loaded = await this.load(id)
    if (!loaded) throw new TusError('NOT_FOUND')
    return loaded
  }

  /**
   * Writes the state object: a creation only if there is none (If-None-Match), a change only over the version
   * read (If-Match). Refused: ID_TAKEN for a creation, LOCK_LOST for a change (someone else changed it).
   */
  private async save(id: string, loaded: Loaded, mode: 'create' | 'change' = 'change', bytes = false): Promise<void> {
    const { state } = loaded
    // updatedAt: when bytes last counted (expiration counts idleness from it).
    if (bytes) state.upload.updatedAt = new Date().toISOString()
    const body = JSON.stringify(state)
    for (let attempt = 0; ; attempt++) {
      const quoted = !this.unquotedIfMatch
      const condition = !this.conditional
        ? {}
        : mode === 'create'
          ? { IfNoneMatch: '*' }
          : loaded.etag
            ? { IfMatch: this.unquotedIfMatch ? loaded.etag.replace(/"/g, '') : loaded.etag }
            : {}
      try {
        const res = await this.send(
          new this.sdk.PutObjectCommand({
            Bucket: this.bucket,
            Key: this.infoKey(id),
            Body: body,
            ContentType: 'application/json',
            ContentLength: Buffer.byteLength(body),
            ...condition,
          }),
        )
        loaded.etag = res.ETag
        return
      } catch (err) {
        if (!isPreconditionFailed(err)) throw err
        if (mode === 'create') throw new TusError('ID_TAKEN')
        if (attempt === 0 && quoted && loaded.etag) {
          // Refused though nobody changed it? Then the service wants the ETag unquoted (Ceph RGW 16).
          const now = await this.send(new this.sdk.HeadObjectCommand({ Bucket: this.bucket, Key: this.infoKey(id) })).catch(() => undefined)
          if (now?.ETag === loaded.etag) {
            this.unquotedIfMatch = true
            continue
          }
        }
        throw lockLost('its state was changed by another writer')
      }
    }
  }

  // --- S3 helpers -------------------------------------------------------------------------------------------

  // eslint-disable-next-line @typescript-eslint/no-explicit-any
  private send<T = any>(command: object, signal?: AbortSignal): Promise<T> {
    // eslint-disable-next-line @typescript-eslint/no-explicit-any
    return this.client.send(command as any, signal ? { abortSignal: signal } : {}) as Promise<T>
  }

  /** A command carrying bytes: marked UNSIGNED-PAYLOAD unless signPayload (its own stack: the client is untouched). */
  private bytesCommand<C extends object>(command: C): C {
    if (this.signPayload) return command
    const stack = (command as { middlewareStack?: { add(fn: unknown, options: object): void } }).middlewareStack
    stack?.add(
      // eslint-disable-next-line @typescript-eslint/no-explicit-any
      (next: any) => (args: any) => {
        if (args.request?.headers) args.request.headers['x-amz-content-sha256'] = 'UNSIGNED-PAYLOAD'
        return next(args)
      },
      { step: 'build', name: 'tusUnsignedPayload' },
    )
    return command
  }

  private async uploadPart(id: string, uploadId: string, n: number, bytes: Buffer, signal?: AbortSignal): Promise<string> {
    const res = await this.send<{ ETag?: string }>(
      this.bytesCommand(
        new this.sdk.UploadPartCommand({ Bucket: this.bucket, Key: this.key(id), UploadId: uploadId, PartNumber: n, Body: bytes, ContentLength: bytes.length }),
      ),
      signal,
    )
    if (!res.ETag) throw new Error(`S3Store: UploadPart ${n} of ${id} answered no ETag`)
    return res.ETag
  }

  /** The first `size` bytes of an object (a tail: at most one part), whole. */
  private async readObject(key: string, size: number, signal?: AbortSignal): Promise<Buffer> {
    if (size === 0) return Buffer.alloc(0)
    const res = await this.send<{ Body?: { transformToByteArray(): Promise<Uint8Array> } }>(
      new this.sdk.GetObjectCommand({ Bucket: this.bucket, Key: key, Range: `bytes=0-${size - 1}` }),
      signal,
    )
    const bytes = await res.Body!.transformToByteArray()
    const buf = Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength)
    if (buf.length !== size) throw new Error(`S3Store: ${key} holds ${buf.length} bytes, ${size} expected`)
    return buf
  }

  private async objectSize(key: string): Promise<number | undefined> {
    try {
      const head = await this.send<{ ContentLength?: number }>(new this.sdk.HeadObjectCommand({ Bucket: this.bucket, Key: key }))
      return head.ContentLength
    } catch (err) {
      if (isNotFound(err)) return undefined
      throw err
    }
  }

  /** Runs `fill` on a new multipart upload of `key` and completes it; aborts it when anything fails. */
  private async multipart(key: string, fill: (uploadId: string) => Promise<Part[]>): Promise<void> {
    const created = await this.send<{ UploadId?: string }>(new this.sdk.CreateMultipartUploadCommand({ Bucket: this.bucket, Key: key }))
    const uploadId = created.UploadId!
    try {
      const parts = await fill(uploadId)
      await this.send(
        new this.sdk.CompleteMultipartUploadCommand({
          Bucket: this.bucket,
          Key: key,
          UploadId: uploadId,
          MultipartUpload: { Parts: parts.map((p) => ({ PartNumber: p.n, ETag: p.etag })) },
        }),
      )
    } catch (err) {
      await this.send(new this.sdk.AbortMultipartUploadCommand({ Bucket: this.bucket, Key: key, UploadId: uploadId })).catch(() => {})
      throw err
    }
  }

  private async list(prefix: string): Promise<string[]> {
    const keys: string[] = []
    let token: string | undefined
    do {
      const page = await this.send<{ Contents?: { Key?: string }[]; IsTruncated?: boolean; NextContinuationToken?: string }>(
        new this.sdk.ListObjectsV2Command({ Bucket: this.bucket, Prefix: prefix, ContinuationToken: token }),
      )
      for (const object of page.Contents ?? []) if (object.Key) keys.push(object.Key)
      token = page.IsTruncated ? page.NextContinuationToken : undefined
    } while (token)
    return keys
  }

  /** Deletes objects no state names any more; a failure only leaves garbage for remove(). */
  private async deleteQuietly(keys: string[]): Promise<void> {
    for (const key of keys) {
      await this.send(new this.sdk.DeleteObjectCommand({ Bucket: this.bucket, Key: key })).catch((err) =>
        debug('deleting %s failed: %s', key, (err as Error)?.message),
      )
    }
  }
}
