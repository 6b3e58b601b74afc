/**
 * A DataStore wrapper for fault injection: it counts the bytes each upload's writes are handed (what reached
 * the store, observed server-side), can hold calls at a gate, and can make calls fail with an I/O error.
 */
import type { DataStore, NewUpload, Upload, UploadChanges, ByteRange, WriteOptions } from 'tus-middleware'

type Method = 'create' | 'get' | 'write' | 'commit' | 'discard' | 'finish' | 'update' | 'remove' | 'read' | 'concatenate' | 'link' | 'linked' | 'idle'

export interface Fault {
  method: Method
  /** For write: fail after this many bytes of the call were stored. */
  afterBytes?: number
  /** The error's errno code, e.g. ENOSPC or EACCES. */
  code: string
}

export function ioError(code: string, path = '/srv/secret/uploads/abc.bin'): NodeJS.ErrnoException {
  const err = new Error(`${code}: simulated failure, write '${path}'`) as NodeJS.ErrnoException
  err.code = code
  err.path = path
  return err
}

export class InstrumentedStore implements DataStore {
  readonly capabilities
  /** Bytes handed to write() per upload id, over all calls. */
  readonly written = new Map<string, number>()
  fault: Fault | undefined
  /** When set, get() waits for it (to hold a request between taking the lock and reading the body). */
  getGate: Promise<void> | undefined

  constructor(readonly inner: DataStore) {
    this.capabilities = inner.capabilities
  }

  private check(method: Method): void {
    if (this.fault?.method === method && this.fault.afterBytes === undefined) throw ioError(this.fault.code)
  }

  async create(upload: NewUpload): Promise<Upload> {
    this.check('create')
    return this.inner.create(upload)
  }

  async get(id: string): Promise<Upload | undefined> {
    if (this.getGate) await this.getGate
    this.check('get')
    return this.inner.get(id)
  }

  async write(id: string, offset: number, body: AsyncIterable<Buffer>, options?: WriteOptions): Promise<number> {
    this.check('write')
    const self = this
    const fault = this.fault?.method === 'write' ? this.fault : undefined
    async function* counted(): AsyncIterable<Buffer> {
      let sent = 0
      for await (const chunk of body) {
        let piece = chunk
        if (fault?.afterBytes !== undefined && sent + chunk.length > fault.afterBytes) {
          piece = chunk.subarray(0, fault.afterBytes - sent)
          if (piece.length > 0) {
            yield piece
            self.written.set(id, (self.written.get(id) ?? 0) + piece.length)
          }
          throw ioError(fault.code)
        }
        yield piece
        sent += piece.length
        self.written.set(id, (self.written.get(id) ?? 0) + piece.length)
      }
    }
    return this.inner.write(id, offset, counted(), options)
  }

  async commit(id: string, offset: number): Promise<number> {
    this.check('commit')
    return this.inner.commit(id, offset)
  }

  async discard(id: string, offset: number): Promise<void> {
    this.check('discard')
    return this.inner.discard(id, offset)
  }

  async finish(id: string): Promise<void> {
    this.check('finish')
    await this.inner.finish?.(id)
  }

  async update(id: string, changes: UploadChanges): Promise<Upload> {
    this.check('update')
    return this.inner.update(id, changes)
  }

  async remove(id: string): Promise<void> {
    this.check('remove')
    return this.inner.remove!(id)
  }

  async read(id: string, range?: ByteRange) {
    this.check('read')
    return this.inner.read!(id, range)
  }

  async concatenate(id: string, parts: readonly string[]): Promise<Upload> {
    this.check('concatenate')
    return this.inner.concatenate!(id, parts)
  }

  async link(partId: string, finalId: string): Promise<void> {
    this.check('link')
    return this.inner.link!(partId, finalId)
  }

  async linked(partId: string): Promise<string[]> {
    this.check('linked')
    return this.inner.linked!(partId)
  }

  idle(before: number): AsyncIterable<Upload> {
    this.check('idle')
    return this.inner.idle!(before)
  }
}
