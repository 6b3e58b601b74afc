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
import { PartWriter, type PartWriterStore } from './part-writer.js'
import { isNotFound, isPreconditionFailed, MiB, S3_MAX_OBJECT_SIZE, S3_MAX_PART_SIZE, S3_MAX_PARTS, S3_MIN_PART_SIZE, S3Calls } from './s3-calls.js'
import { checkFence, lockLost, offsetOf, viewOf, type Loaded, type Part, type State } from './state.js'

export { S3_MAX_OBJECT_SIZE, S3_MAX_PART_SIZE, S3_MAX_PARTS, S3_MIN_PART_SIZE } from './s3-calls.js'
export { offsetOf } from './state.js'

const debug = createDebug('tus-middleware:s3')

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
  /** The S3 calls, on this bucket through this client. */
  private readonly s3: S3Calls
  /** What write()'s PartWriter uses of this store. */
  private readonly writerStore: PartWriterStore
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
    this.s3 = new S3Calls(this.client, this.sdk, this.bucket, options.signPayload ?? false)
    this.writerStore = {
      s3: this.s3,
      partConcurrency,
      key: (id) => this.key(id),
      tailKey: (id) => this.tailKey(id),
      save: (id, loaded, bytes) => this.save(id, loaded, 'change', bytes),
      allocate: (size) => {
        this.partBuffersAllocated++
        return Buffer.allocUnsafe(size)
      },
    }
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
    return viewOf(state)
  }

  async get(id: string): Promise<Upload | undefined> {
    const loaded = await this.load(id)
    return loaded && viewOf(loaded.state)
  }

  async write(id: string, offset: number, body: AsyncIterable<Buffer>, options: WriteOptions = {}): Promise<number> {
    const loaded = await this.must(id)
    const { state } = loaded
    checkFence(state, options.fence)
    if (offset !== offsetOf(state)) throw new TusError('OFFSET_MISMATCH')
    if (state.finished !== undefined) {
      for await (const chunk of body) if (chunk.length > 0) throw new TusError('BODY_EXCEEDS_LENGTH')
      return offset
    }
    return new PartWriter(this.writerStore, id, loaded, offset, options).write(body)
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
    await this.s3.deleteQuietly(garbage)
    return offsetOf(state)
  }

  async discard(id: string, offset: number): Promise<void> {
    const loaded = await this.load(id)
    const stage = loaded?.state.stage
    if (!loaded || !stage || stage.offset !== offset) return
    loaded.state.stage = undefined
    await this.save(id, loaded)
    if (stage.tail) await this.s3.deleteQuietly([stage.tail.key])
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
      const bytes = oldTail ? await this.s3.readObject(oldTail.key, oldTail.size) : Buffer.alloc(0)
      await this.s3.send(new this.sdk.PutObjectCommand({ Bucket: this.bucket, Key: key, Body: bytes, ContentLength: bytes.length }))
    } else {
      const parts = [...state.parts]
      try {
        if (oldTail && oldTail.size > 0) {
          // The tail becomes the last part (the last may be smaller than 5 MiB): byte-exact with deferred lengths.
          const bytes = await this.s3.readObject(oldTail.key, oldTail.size)
          const n = parts.length + 1
          parts.push({ n, size: bytes.length, etag: await this.s3.uploadPart(id, this.key(id), state.mpu, n, bytes) })
        }
        await this.s3.send(
          new this.sdk.CompleteMultipartUploadCommand({
            Bucket: this.bucket,
            Key: key,
            UploadId: state.mpu,
            MultipartUpload: { Parts: parts.map((p) => ({ PartNumber: p.n, ETag: p.etag })) },
          }),
        )
      } catch (err) {
        // Finished before a crash kept us from recording it: the multipart upload is gone and the object whole.
        if (!isNotFound(err) || (await this.s3.objectSize(key)) !== size) throw err
      }
    }
    state.finished = size
    state.mpu = undefined
    state.parts = []
    state.tail = undefined
    state.stage = undefined
    await this.save(id, loaded)
    // Whatever tails crashes left behind go too.
    await this.s3.deleteQuietly(await this.s3.list(this.tailsPrefix(id)))
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
        return viewOf(state)
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
      const page = await this.s3.send(
        new this.sdk.ListMultipartUploadsCommand({ Bucket: this.bucket, Prefix: key, KeyMarker: keyMarker, UploadIdMarker: uploadIdMarker }),
      )
      for (const u of page.Uploads ?? []) if (u.Key === key && u.UploadId) uploads.add(u.UploadId)
      keyMarker = page.IsTruncated ? page.NextKeyMarker : undefined
      uploadIdMarker = page.IsTruncated ? page.NextUploadIdMarker : undefined
    } while (keyMarker)
    for (const uploadId of uploads) {
      await this.s3.send(new this.sdk.AbortMultipartUploadCommand({ Bucket: this.bucket, Key: key, UploadId: uploadId })).catch((err) => {
        if (!isNotFound(err)) throw err
      })
    }
    const keys = [key, ...(await this.s3.list(this.tailsPrefix(id))), ...(await this.s3.list(this.linksPrefix(id)))]
    for (const k of keys) await this.s3.send(new this.sdk.DeleteObjectCommand({ Bucket: this.bucket, Key: k }))
    // The state last: until it is gone, remove() can be run again.
    await this.s3.send(new this.sdk.DeleteObjectCommand({ Bucket: this.bucket, Key: this.infoKey(id) }))
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
      const res = await this.s3.send(
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
    const res = await this.s3.send(new this.sdk.GetObjectCommand({ Bucket: this.bucket, Key: tail.key, Range: `bytes=${start}-${last}` }))
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
        const bytes = Buffer.concat(await Promise.all(sources.map((s) => this.s3.readObject(s.key, s.size))), total)
        await this.s3.send(new this.sdk.PutObjectCommand({ Bucket: this.bucket, Key: key, Body: bytes, ContentLength: bytes.length }))
      } else if (this.copyParts && sources.slice(0, -1).every((s) => s.size >= S3_MIN_PART_SIZE)) {
        await this.s3.multipart(key, async (mpu) => {
          const out: Part[] = []
          for (const source of sources) {
            // A part over 5 GiB is copied in ranges of at most 5 GiB, each but the last at least 5 MiB.
            for (let start = 0; start < source.size; start += S3_MAX_PART_SIZE) {
              const last = Math.min(start + S3_MAX_PART_SIZE, source.size) - 1
              const n = out.length + 1
              if (n > S3_MAX_PARTS) throw new TusError('MAX_SIZE_EXCEEDED')
              const res = await this.s3.send(
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
        await this.s3.multipart(key, async (mpu) => {
          const out: Part[] = []
          let pending: Buffer[] = []
          let size = 0
          const flush = async (bytes: number) => {
            const all = Buffer.concat(pending, size)
            const n = out.length + 1
            out.push({ n, size: bytes, etag: await this.s3.uploadPart(id, this.key(id), mpu, n, all.subarray(0, bytes)) })
            const rest = all.subarray(bytes)
            pending = rest.length ? [rest] : []
            size = rest.length
          }
          for (const source of sources) {
            const res = await this.s3.send(new this.sdk.GetObjectCommand({ Bucket: this.bucket, Key: source.key }))
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
      await this.s3.send(new this.sdk.AbortMultipartUploadCommand({ Bucket: this.bucket, Key: key, UploadId: state.mpu })).catch(() => {})
    }
    Object.assign(state, { finished: total, mpu: undefined, parts: [], tail: undefined, stage: undefined })
    await this.save(id, loaded, 'change', true)
    await this.s3.deleteQuietly(garbage)
    debug('%s: concatenated %d parts, %d bytes', id, parts.length, total)
    return viewOf(state)
  }

  async link(partId: string, finalId: string): Promise<void> {
    if (!isValidId(partId) || !isValidId(finalId)) return
    await this.s3.send(new this.sdk.PutObjectCommand({ Bucket: this.bucket, Key: `${this.linksPrefix(partId)}${finalId}`, Body: '', ContentLength: 0 }))
  }

  async linked(partId: string): Promise<string[]> {
    if (!isValidId(partId)) return []
    const prefix = this.linksPrefix(partId)
    return (await this.s3.list(prefix)).map((key) => key.slice(prefix.length))
  }

  /**
   * Uploads idle since `before`: a listing of the state objects (LastModified, written with every change), then
   * a read of each that is old enough (with a minute's grace for the bucket's clock).
   */
  async *idle(before: number): AsyncIterable<Upload> {
    const prefix = `${this.prefix}.tus/info/`
    let token: string | undefined
    do {
      const page = await this.s3.send(new this.sdk.ListObjectsV2Command({ Bucket: this.bucket, Prefix: prefix, ContinuationToken: token }))
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

  private async load(id: string): Promise<Loaded | undefined> {
    if (!isValidId(id)) return undefined
    let res
    try {
      res = await this.s3.send(new this.sdk.GetObjectCommand({ Bucket: this.bucket, Key: this.infoKey(id) }))
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
        const res = await this.s3.send(
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
          const now = await this.s3.send(new this.sdk.HeadObjectCommand({ Bucket: this.bucket, Key: this.infoKey(id) })).catch(() => undefined)
          if (now?.ETag === loaded.etag) {
            this.unquotedIfMatch = true
            continue
          }
        }
        throw lockLost('its state was changed by another writer')
      }
    }
  }

}
