/**
 * Keeps uploads in memory: for tests, demos and several middleware instances in one process. Not durable and
 * bounded only by the process's memory.
 */
import { Readable } from 'node:stream'
import { TusError } from '../errors.js'
import type { NewUpload, Upload } from '../upload.js'
import type { ByteRange, DataStore, StoreCapability, UploadChanges, WriteOptions } from './data-store.js'

interface Entry {
  upload: Upload
  chunks: Buffer[]
  /** A staged write: where it starts and its bytes. */
  stage?: { offset: number; chunks: Buffer[] }
  /** Finals linked to this upload as a part. */
  finals?: Set<string>
}

export class MemoryStore implements DataStore {
  readonly capabilities: readonly StoreCapability[] = ['termination', 'read', 'concatenation', 'expiration']
  private readonly entries = new Map<string, Entry>()

  async create(upload: NewUpload): Promise<Upload> {
    if (this.entries.has(upload.id)) throw new TusError('ID_TAKEN')
    const stored: Upload = { ...structuredClone(upload), offset: 0, updatedAt: new Date().toISOString() }
    this.entries.set(upload.id, { upload: stored, chunks: [] })
    return structuredClone(stored)
  }

  async get(id: string): Promise<Upload | undefined> {
    const entry = this.entries.get(id)
    return entry && structuredClone(entry.upload)
  }

  async write(id: string, offset: number, body: AsyncIterable<Buffer>, options?: WriteOptions): Promise<number> {
    const entry = this.must(id)
    if (offset !== entry.upload.offset) throw new TusError('OFFSET_MISMATCH')
    // A stage a failed writer left is dropped by the next write.
    entry.stage = undefined
    const stage = options?.staged ? { offset, chunks: [] as Buffer[] } : undefined
    if (stage) entry.stage = stage
    let end = offset
    for await (const chunk of body) {
      options?.signal?.throwIfAborted()
      // Copy: the socket may reuse the chunk's memory.
      const copy = Buffer.from(chunk)
      end += copy.length
      // Staged bytes are activity too: an upload receiving them is not idle.
      entry.upload.updatedAt = new Date().toISOString()
      if (stage) {
        stage.chunks.push(copy)
        continue
      }
      entry.chunks.push(copy)
      entry.upload.offset = end
    }
    return end
  }

  async commit(id: string, offset: number): Promise<number> {
    const entry = this.must(id)
    const { stage } = entry
    // Only the stage that starts there; any other is left as it is.
    if (stage?.offset !== offset) return entry.upload.offset
    if (entry.upload.offset === offset) {
      entry.chunks.push(...stage.chunks)
      entry.upload.offset += stage.chunks.reduce((sum, c) => sum + c.length, 0)
      entry.upload.updatedAt = new Date().toISOString()
    }
    entry.stage = undefined
    return entry.upload.offset
  }

  async discard(id: string, offset: number): Promise<void> {
    const entry = this.entries.get(id)
    if (entry?.stage?.offset === offset) entry.stage = undefined
  }

  /** One buffer per finished upload: reads of it copy nothing more. */
  async finish(id: string): Promise<void> {
    const entry = this.must(id)
    if (entry.chunks.length > 1) entry.chunks = [Buffer.concat(entry.chunks)]
  }

  async update(id: string, changes: UploadChanges): Promise<Upload> {
    const entry = this.must(id)
    Object.assign(entry.upload, structuredClone(changes))
    return structuredClone(entry.upload)
  }

  async remove(id: string): Promise<void> {
    this.must(id)
    this.entries.delete(id)
  }

  async read(id: string, range?: ByteRange): Promise<Readable> {
    const entry = this.must(id)
    const all = Buffer.concat(entry.chunks)
    return Readable.from([range ? all.subarray(range.start, range.end + 1) : all])
  }

  async concatenate(id: string, parts: readonly string[]): Promise<Upload> {
    const entry = this.must(id)
    const chunks = parts.map((part) => {
      const found = this.entries.get(part)
      if (!found) throw new TusError('CONCAT_PART_GONE')
      return Buffer.concat(found.chunks)
    })
    entry.chunks = chunks
    entry.upload.offset = chunks.reduce((sum, c) => sum + c.length, 0)
    entry.upload.updatedAt = new Date().toISOString()
    return structuredClone(entry.upload)
  }

  async link(partId: string, finalId: string): Promise<void> {
    const entry = this.entries.get(partId)
    if (entry) (entry.finals ??= new Set()).add(finalId)
  }

  async linked(partId: string): Promise<string[]> {
    return [...(this.entries.get(partId)?.finals ?? [])]
  }

  /** Every upload, in no particular order (not part of the store contract: for the host's own use). */
  async *list(): AsyncIterable<Upload> {
    for (const id of [...this.entries.keys()]) {
      const upload = await this.get(id)
      if (upload) yield upload
    }
  }

  async *idle(before: number): AsyncIterable<Upload> {
    for (const id of [...this.entries.keys()]) {
      const upload = await this.get(id)
      if (upload && Date.parse(upload.updatedAt ?? upload.createdAt) < before) yield upload
    }
  }

  private must(id: string): Entry {
    const entry = this.entries.get(id)
    if (!entry) throw new TusError('NOT_FOUND')
    return entry
  }
}
