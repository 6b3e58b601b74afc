/**
 * The contract every DataStore must keep, as a vitest suite. Run it against your own store:
 *   storeContract('MyStore', () => new MyStore(...))
 * The factory must return a fresh, empty store each time.
 */
import { createHash, randomBytes } from 'node:crypto'
import type { Readable } from 'node:stream'
import { describe, expect, it } from 'vitest'
import { TusError } from '../errors.js'
import type { DataStore } from '../stores/data-store.js'
import { generateId } from '../stores/ids.js'
import type { NewUpload } from '../upload.js'

export interface StoreContractOptions {
  /** Called after each test with the store it used (remove temp directories here). */
  cleanup?: (store: DataStore) => void | Promise<void>
}

const sha256 = (data: Buffer): string => createHash('sha256').update(data).digest('hex')

async function* chunksOf(data: Buffer, size = 64 * 1024): AsyncGenerator<Buffer> {
  for (let i = 0; i < data.length; i += size) yield data.subarray(i, i + size)
}

async function readAll(stream: Readable): Promise<Buffer> {
  const parts: Buffer[] = []
  for await (const chunk of stream) parts.push(chunk as Buffer)
  return Buffer.concat(parts)
}

const draft = (over: Partial<NewUpload> = {}): NewUpload => ({
  id: generateId(),
  length: 1000,
  metadata: { filename: 'a.bin', empty: '' },
  createdAt: new Date().toISOString(),
  ...over,
})

export function storeContract(name: string, factory: () => DataStore | Promise<DataStore>, options: StoreContractOptions = {}): void {
  describe(`DataStore contract: ${name}`, () => {
    const withStore = (fn: (store: DataStore) => Promise<void>) => async () => {
      const store = await factory()
      try {
        await fn(store)
      } finally {
        await options.cleanup?.(store)
      }
    }
    const content = async (store: DataStore, id: string): Promise<Buffer> => readAll(await store.read!(id))
    const canRead = (store: DataStore) => store.capabilities.includes('read')

    it('creates an upload at offset 0 and gets it back unchanged', withStore(async (store) => {
      const d = draft()
      expect(await store.create(d)).toEqual({ ...d, offset: 0 })
      expect(await store.get(d.id)).toEqual({ ...d, offset: 0 })
    }))

    it('keeps a deferred length undefined', withStore(async (store) => {
      const d = draft({ length: undefined })
      await store.create(d)
      expect((await store.get(d.id))?.length).toBeUndefined()
    }))

    it('refuses an id that is taken with TusError ID_TAKEN', withStore(async (store) => {
      const d = draft()
      await store.create(d)
      await expect(store.create(d)).rejects.toMatchObject({ code: 'ID_TAKEN' })
      await expect(store.create(d)).rejects.toBeInstanceOf(TusError)
    }))

    it('answers undefined for an unknown or malformed id', withStore(async (store) => {
      expect(await store.get(generateId())).toBeUndefined()
      for (const id of ['../etc/passwd', '..', 'a/b', 'a\\b', 'x\0y', '']) expect(await store.get(id)).toBeUndefined()
    }))

    it('writes at the offset and reads the same bytes back', withStore(async (store) => {
      const data = randomBytes(300_000)
      const d = draft({ length: data.length })
      await store.create(d)
      expect(await store.write(d.id, 0, chunksOf(data))).toBe(data.length)
      expect((await store.get(d.id))?.offset).toBe(data.length)
      if (canRead(store)) expect(sha256(await content(store, d.id))).toBe(sha256(data))
    }))

    it('resumes: successive writes append', withStore(async (store) => {
      const data = randomBytes(100_000)
      const d = draft({ length: data.length })
      await store.create(d)
      let offset = 0
      for (const cut of [1, 40_000, 40_001, 100_000]) {
        offset = await store.write(d.id, offset, chunksOf(data.subarray(offset, cut), 7777))
        expect(offset).toBe(cut)
        expect((await store.get(d.id))?.offset).toBe(cut)
      }
      if (canRead(store)) expect(sha256(await content(store, d.id))).toBe(sha256(data))
    }))

    it('keeps every byte consumed before an interrupted write', withStore(async (store) => {
      const data = randomBytes(50_000)
      const d = draft({ length: 100_000 })
      await store.create(d)
      async function* interrupted() {
        yield data.subarray(0, 20_000)
        yield data.subarray(20_000, 50_000)
        throw new Error('connection lost')
      }
      await expect(store.write(d.id, 0, interrupted())).rejects.toThrow('connection lost')
      expect((await store.get(d.id))?.offset).toBe(50_000)
      if (canRead(store)) expect(sha256(await content(store, d.id))).toBe(sha256(data))
      expect(await store.write(d.id, 50_000, chunksOf(data))).toBe(100_000)
    }))

    it('truncates back to an earlier offset', withStore(async (store) => {
      const data = randomBytes(10_000)
      const d = draft({ length: 20_000 })
      await store.create(d)
      await store.write(d.id, 0, chunksOf(data))
      await store.truncate(d.id, 4_000)
      expect((await store.get(d.id))?.offset).toBe(4_000)
      if (canRead(store)) expect(sha256(await content(store, d.id))).toBe(sha256(data.subarray(0, 4_000)))
    }))

    it('updates length, completedAt and metadata durably', withStore(async (store) => {
      const d = draft({ length: undefined })
      await store.create(d)
      const completedAt = new Date().toISOString()
      const updated = await store.update(d.id, { length: 0, completedAt, metadata: { k: 'v' } })
      expect(updated).toMatchObject({ id: d.id, length: 0, completedAt, metadata: { k: 'v' }, offset: 0 })
      expect(await store.get(d.id)).toEqual(updated)
    }))

    it('reads a byte range', withStore(async (store) => {
      if (!canRead(store)) return
      const data = randomBytes(5_000)
      const d = draft({ length: data.length })
      await store.create(d)
      await store.write(d.id, 0, chunksOf(data, 999))
      const part = await readAll(await store.read!(d.id, { start: 100, end: 1_099 }))
      expect(part.equals(data.subarray(100, 1_100))).toBe(true)
    }))

    it('removes an upload and its bytes', withStore(async (store) => {
      if (!store.capabilities.includes('termination')) return
      const d = draft()
      await store.create(d)
      await store.write(d.id, 0, chunksOf(randomBytes(10)))
      await store.remove!(d.id)
      expect(await store.get(d.id)).toBeUndefined()
      await expect(store.remove!(d.id)).rejects.toMatchObject({ code: 'NOT_FOUND' })
      // The id is free again.
      await store.create(d)
      expect((await store.get(d.id))?.offset).toBe(0)
    }))

    it('serves concurrent writes to different uploads without mixing bytes', withStore(async (store) => {
      const uploads = Array.from({ length: 8 }, () => ({ data: randomBytes(200_000), d: draft({ length: 200_000 }) }))
      await Promise.all(uploads.map(({ d }) => store.create(d)))
      await Promise.all(uploads.map(({ d, data }) => store.write(d.id, 0, chunksOf(data, 4096))))
      for (const { d, data } of uploads) {
        expect((await store.get(d.id))?.offset).toBe(data.length)
        if (canRead(store)) expect(sha256(await content(store, d.id))).toBe(sha256(data))
      }
    }))
  })
}
