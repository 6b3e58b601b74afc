/**
 * The thin S3 calls S3Store is made of: send, parts and tails sent as UNSIGNED-PAYLOAD, whole reads, sizes,
 * multipart uploads, listings, quiet deletes; and what an S3 error means.
 */
import type { S3Client } from '@aws-sdk/client-s3'
import createDebug from 'debug'
import type { S3Module } from './load.js'
import type { Part } from './state.js'

const debug = createDebug('tus-middleware:s3')

export const MiB = 1024 * 1024
/** S3's limits: parts of 5 MiB to 5 GiB (but the last), at most 10,000 of them, objects of at most 5 TiB. */
export const S3_MIN_PART_SIZE = 5 * MiB
export const S3_MAX_PART_SIZE = 5 * 1024 * MiB
export const S3_MAX_PARTS = 10_000
export const S3_MAX_OBJECT_SIZE = 5 * 1024 * 1024 * MiB

export const isNotFound = (err: unknown): boolean => {
  const e = err as { name?: string; Code?: string; $metadata?: { httpStatusCode?: number } }
  return e?.name === 'NoSuchKey' || e?.name === 'NotFound' || e?.name === 'NoSuchUpload' || e?.$metadata?.httpStatusCode === 404
}
export const isPreconditionFailed = (err: unknown): boolean => {
  const e = err as { name?: string; $metadata?: { httpStatusCode?: number } }
  return e?.name === 'PreconditionFailed' || e?.$metadata?.httpStatusCode === 412
}

/** S3 calls on one bucket through one client. */
export class S3Calls {
  constructor(
    readonly client: S3Client,
    readonly sdk: S3Module,
    readonly bucket: string,
    /** Sign the bytes of parts and tails; else they go as UNSIGNED-PAYLOAD. */
    private readonly signPayload: boolean,
  ) {}

  // eslint-disable-next-line @typescript-eslint/no-explicit-any
  send<T = any>(command: object, signal?: AbortSignal): Promise<T> {
    // eslint-disable-next-line @typescript-eslint/no-explicit-any
    return this.client.send(command as any, signal ? { abortSignal: signal } : {}) as Promise<T>
  }

  /** A command carrying bytes: marked UNSIGNED-PAYLOAD unless signPayload (its own stack: the client is untouched). */
  bytesCommand<C extends object>(command: C): C {
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

  /** Part `n` of the multipart upload `uploadId` of `key` (upload `id`): its ETag. */
  async uploadPart(id: string, key: string, uploadId: string, n: number, bytes: Buffer, signal?: AbortSignal): Promise<string> {
    const res = await this.send<{ ETag?: string }>(
      this.bytesCommand(new this.sdk.UploadPartCommand({ Bucket: this.bucket, Key: key, UploadId: uploadId, PartNumber: n, Body: bytes, ContentLength: bytes.length })),
      signal,
    )
    if (!res.ETag) throw new Error(`S3Store: UploadPart ${n} of ${id} answered no ETag`)
    return res.ETag
  }

  /** The first `size` bytes of an object (a tail: at most one part), whole. */
  async readObject(key: string, size: number, signal?: AbortSignal): Promise<Buffer> {
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

  async objectSize(key: string): Promise<number | undefined> {
    try {
      const head = await this.send<{ ContentLength?: number }>(new this.sdk.HeadObjectCommand({ Bucket: this.bucket, Key: key }))
      return head.ContentLength
    } catch (err) {
      if (isNotFound(err)) return undefined
      throw err
    }
  }

  /** Runs `fill` on a new multipart upload of `key` and completes it; aborts it when anything fails. */
  async multipart(key: string, fill: (uploadId: string) => Promise<Part[]>): Promise<void> {
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

  async list(prefix: string): Promise<string[]> {
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
  async deleteQuietly(keys: string[]): Promise<void> {
    for (const key of keys) {
      await this.send(new this.sdk.DeleteObjectCommand({ Bucket: this.bucket, Key: key })).catch((err) =>
        debug('deleting %s failed: %s', key, (err as Error)?.message),
      )
    }
  }
}
