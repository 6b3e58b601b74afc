/**
 * Keeps uploads in memory: for tests and demos. Not durable and bounded only by the process's memory.
 */
import { Readable } from 'node:stream'
import { TusError } from '../errors.js'
import type { NewUpload, Upload } from '../upload.js'
import type { ByteRange, DataStore, StoreCapability, UploadChanges } from './data-store.js'

interface Entry {
  upload: Upload
  chunks: Buffer[]
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

  async write(id: string, offset: number, body: AsyncIterable<Buffer>): Promise<number> {
    const entry = this.must(id)
    if (offset !== entry.upload.offset) throw new TusError('OFFSET_MISMATCH')
    for await (const chunk of body) {
      // Copy: the socket may reuse the chunk's memory.
      entry.chunks.push(Buffer.from(chunk))
      entry.upload.offset += chunk.length
      entry.upload.updatedAt = new Date().toISOString()
    }
    return entry.upload.offset
  }

  async truncate(id: string, offset: number): Promise<void> {
    const entry = this.must(id)
    if (offset >= entry.upload.offset) return
    const all = Buffer.concat(entry.chunks).subarray(0, offset)
    entry.chunks = [Buffer.from(all)]
    entry.upload.offset = offset
    entry.upload.updatedAt = new Date().toISOString()
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
    const chunks = parts.map((part) => Buffer.concat(this.must(part).chunks))
    entry.chunks = chunks
    entry.upload.offset = chunks.reduce((sum, c) => sum + c.length, 0)
    entry.upload.updatedAt = new Date().toISOString()
    return structuredClone(entry.upload)
  }

  async *list(): AsyncIterable<Upload> {
    for (const id of [...this.entries.keys()]) {
      const upload = await this.get(id)
      if (upload) yield upload
    }
  }

  private must(id: string): Entry {
    const entry = this.entries.get(id)
    if (!entry) throw new TusError('NOT_FOUND')
    return entry
  }
}
