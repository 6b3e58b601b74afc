/**
 * The contract every DataStore must keep, as a vitest suite. Run it against your own store:
 *   storeContract('MyStore', () => new MyStore(...))
 * The factory must return a fresh, empty store each time. A case that needs an optional capability the store
 * lacks is reported as skipped (naming what is missing), never passed without its assertions; where a case
 * also checks the stored bytes, that check is a case of its own that needs 'read'.
 */
import { createHash, randomBytes } from 'node:crypto'
import type { Readable } from 'node:stream'
import { describe, expect, it, type TestContext } from 'vitest'
import { TusError } from '../errors.js'
import type { DataStore, StoreCapability } from '../stores/data-store.js'
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

const withoutUpdatedAt = <T extends { updatedAt?: string } | undefined>(upload: T): T => {
  if (!upload) return upload
  const { updatedAt: _, ...rest } = upload
  return rest as T
}

/** What a case may need beyond the core methods: a capability. */
type Need = StoreCapability

const has = (store: DataStore, need: Need): boolean => store.capabilities.includes(need)

/** Checks the stored bytes of an upload (a no-op in the variant of a case that does not read). */
type BytesCheck = (id: string, expected: Buffer) => Promise<void>

const draft = (over: Partial<NewUpload> = {}): NewUpload => ({
  id: generateId(),
  length: 1000,
  metadata: { filename: 'a.bin', empty: '' },
  createdAt: new Date().toISOString(),
  ...over,
})

export function storeContract(name: string, factory: () => DataStore | Promise<DataStore>, options: StoreContractOptions = {}): void {
  describe(`DataStore contract: ${name}`, () => {
    /** Runs `fn` on a fresh store, or skips the case (visibly, saying why) when the store lacks one of `needs`. */
    const withStore = (needs: Need[], fn: (store: DataStore) => Promise<void>) => async (ctx: TestContext) => {
      const store = await factory()
      try {
        const missing = needs.filter((need) => !has(store, need))
        if (missing.length > 0) ctx.skip(`${name} does not implement ${missing.join(', ')}`)
        await fn(store)
      } finally {
        await options.cleanup?.(store)
      }
    }
    const content = async (store: DataStore, id: string): Promise<Buffer> => readAll(await store.read!(id))

    /**
     * A case that also checks stored bytes, as two: `title` runs on every store that has `needs`, without the
     * byte checks; `title: stored bytes read back` runs the same steps with them, on stores that can read.
     */
    const withBytes = (title: string, needs: Need[], fn: (store: DataStore, bytes: BytesCheck) => Promise<void>) => {
      it(title, withStore(needs, (store) => fn(store, async () => {})))
      it(`${title}: stored bytes read back`, withStore([...needs, 'read'], (store) =>
        fn(store, async (id, expected) => expect(sha256(await content(store, id))).toBe(sha256(expected))),
      ))
    }

    it('creates an upload at offset 0 and gets it back unchanged', withStore([], async (store) => {
      const d = draft()
      expect(withoutUpdatedAt(await store.create(d))).toEqual({ ...d, offset: 0 })
      const got = await store.get(d.id)
      expect(withoutUpdatedAt(got)).toEqual({ ...d, offset: 0 })
      // updatedAt is optional; when reported it is a date.
      if (got?.updatedAt !== undefined) expect(Number.isNaN(Date.parse(got.updatedAt))).toBe(false)
    }))

    withBytes('stages bytes: they count only once committed, and discard drops them', [], async (store, bytes) => {
      const a = randomBytes(3_000)
      const b = randomBytes(2_000)
      const d = draft({ length: 10_000 })
      await store.create(d)
      expect(await store.write(d.id, 0, chunksOf(a), { staged: true })).toBe(3_000)
      expect((await store.get(d.id))?.offset).toBe(0)
      expect(await store.commit(d.id, 0)).toBe(3_000)
      expect((await store.get(d.id))?.offset).toBe(3_000)
      let release!: () => void
      const gate = new Promise<void>((r) => (release = r))
      let sent!: () => void
      const allSent = new Promise<void>((r) => (sent = r))
      const writing = store.write(d.id, 3_000, (async function* () {
        yield b
        sent()
        await gate
      })(), { staged: true })
      await allSent
      // Not verified yet: not part of the offset.
      expect((await store.get(d.id))?.offset).toBe(3_000)
      release()
      expect(await writing).toBe(5_000)
      expect((await store.get(d.id))?.offset).toBe(3_000)
      await store.discard(d.id, 3_000)
      expect((await store.get(d.id))?.offset).toBe(3_000)
      // Discarding again, or where nothing is staged, changes nothing.
      await store.discard(d.id, 3_000)
      await store.discard(d.id, 0)
      expect((await store.get(d.id))?.offset).toBe(3_000)
      await bytes(d.id, a)
    })

    withBytes('never counts a stage its writer left behind, and the next write starts at the offset that stands', [], async (store, bytes) => {
      const a = randomBytes(1_000)
      const d = draft({ length: 5_000 })
      await store.create(d)
      await store.write(d.id, 0, chunksOf(a))
      // A writer stages 1,500 bytes and is never heard of again (its process died).
      expect(await store.write(d.id, 1_000, chunksOf(randomBytes(1_500)), { staged: true })).toBe(2_500)
      expect((await store.get(d.id))?.offset).toBe(1_000)
      // The next writer appends at 1,000, shorter than the stage was.
      const b = randomBytes(300)
      expect(await store.write(d.id, 1_000, chunksOf(b))).toBe(1_300)
      expect((await store.get(d.id))?.offset).toBe(1_300)
      // The old stage cannot be committed any more.
      await store.commit(d.id, 1_000)
      expect((await store.get(d.id))?.offset).toBe(1_300)
      await bytes(d.id, Buffer.concat([a, b]))
    })

    withBytes('counts nothing of a staged write that fails part-way', [], async (store, bytes) => {
      const a = randomBytes(500)
      const d = draft({ length: 5_000 })
      await store.create(d)
      await store.write(d.id, 0, chunksOf(a))
      async function* failing() {
        yield randomBytes(700)
        throw new Error('connection lost')
      }
      await expect(store.write(d.id, 500, failing(), { staged: true })).rejects.toThrow('connection lost')
      expect((await store.get(d.id))?.offset).toBe(500)
      await store.discard(d.id, 500)
      expect((await store.get(d.id))?.offset).toBe(500)
      await bytes(d.id, a)
    })

    withBytes('stops a write whose signal aborts, keeping what counted before', [], async (store, bytes) => {
      const a = randomBytes(4_000)
      const d = draft({ length: 50_000 })
      await store.create(d)
      const abort = new AbortController()
      async function* body() {
        yield a
        await new Promise((r) => setTimeout(r, 20))
        abort.abort(new Error('lock lost'))
        await new Promise((r) => setTimeout(r, 20))
        yield randomBytes(4_000)
      }
      await expect(store.write(d.id, 0, body(), { signal: abort.signal })).rejects.toThrow()
      const offset = (await store.get(d.id))!.offset
      // The first chunk may or may not have been stored before the abort was seen; never the second.
      expect([0, 4_000]).toContain(offset)
      await bytes(d.id, a.subarray(0, offset))
    })

    withBytes('refuses a write that does not start at the offset that stands, rewriting nothing', [], async (store, bytes) => {
      const a = randomBytes(2_000)
      const d = draft({ length: 5_000 })
      await store.create(d)
      await store.write(d.id, 0, chunksOf(a))
      await expect(store.write(d.id, 1_000, chunksOf(randomBytes(10)))).rejects.toMatchObject({ code: 'OFFSET_MISMATCH' })
      expect((await store.get(d.id))?.offset).toBe(2_000)
      await bytes(d.id, a)
    })

    withBytes('finishes a complete upload, and again after a crash around it', [], async (store, bytes) => {
      const data = randomBytes(70_000)
      const d = draft({ length: data.length })
      await store.create(d)
      await store.write(d.id, 0, chunksOf(data))
      await store.finish?.(d.id)
      await store.finish?.(d.id)
      const got = await store.get(d.id)
      expect(got?.offset).toBe(data.length)
      expect(got?.length).toBe(data.length)
      await bytes(d.id, data)
    })

    it('links finals to a part without a lock, and lists them', withStore(['concatenation'], async (store) => {
      const part = draft({ concat: { type: 'partial' } })
      await store.create(part)
      expect(await store.linked!(part.id)).toEqual([])
      const finals = [generateId(), generateId()]
      await Promise.all(finals.map((id) => store.link!(part.id, id)))
      await store.link!(part.id, finals[0])
      expect((await store.linked!(part.id)).sort()).toEqual([...finals].sort())
    }))

    it('refuses to concatenate a part that is gone with CONCAT_PART_GONE', withStore(['concatenation', 'termination'], async (store) => {
      const part = draft({ length: 3, concat: { type: 'partial' } })
      await store.create(part)
      await store.write(part.id, 0, chunksOf(Buffer.from('abc')))
      await store.remove!(part.id)
      const final = draft({ length: 3, concat: { type: 'final', parts: [part.id], header: 'final;x' } })
      await store.create(final)
      await expect(store.concatenate!(final.id, [part.id])).rejects.toMatchObject({ code: 'CONCAT_PART_GONE' })
      expect((await store.get(final.id))?.offset).toBe(0)
    }))

    withBytes('concatenates complete uploads in order, repeats included, leaving the parts unchanged', ['concatenation'], async (store, bytes) => {
      const datas = [randomBytes(70_000), randomBytes(1), randomBytes(0), randomBytes(33_333)]
      const parts = datas.map((data) => draft({ length: data.length, concat: { type: 'partial' } }))
      for (const [i, part] of parts.entries()) {
        await store.create(part)
        await store.write(part.id, 0, chunksOf(datas[i]))
      }
      const order = [3, 0, 1, 2, 0]
      const expected = Buffer.concat(order.map((i) => datas[i]))
      const ids = order.map((i) => parts[i].id)
      const final = draft({ length: expected.length, concat: { type: 'final', parts: ids, header: 'final;x' } })
      await store.create(final)
      const done = await store.concatenate!(final.id, ids)
      expect(done.offset).toBe(expected.length)
      expect((await store.get(final.id))?.offset).toBe(expected.length)
      expect((await store.get(final.id))?.concat).toEqual(final.concat)
      // Doing it again (after a crash, say) gives the same bytes, not twice as many.
      expect((await store.concatenate!(final.id, ids)).offset).toBe(expected.length)
      await bytes(final.id, expected)
      for (const [i, part] of parts.entries()) await bytes(part.id, datas[i])
    })

    it('finds uploads idle since a date, with current offsets', withStore(['expiration'], async (store) => {
      const old = [draft(), draft({ length: undefined })]
      for (const d of old) await store.create(d)
      await store.write(old[1].id, 0, chunksOf(randomBytes(123)))
      await new Promise((r) => setTimeout(r, 30))
      const since = Date.now()
      await new Promise((r) => setTimeout(r, 30))
      const fresh = draft()
      await store.create(fresh)
      const found = new Map<string, number>()
      for await (const upload of store.idle!(since)) found.set(upload.id, upload.offset)
      // Never fewer than the idle ones; never the fresh one.
      expect(found.get(old[0].id)).toBe(0)
      expect(found.get(old[1].id)).toBe(123)
      expect(found.has(fresh.id)).toBe(false)
    }))

    it('reports updatedAt for expiration, moving it on a write', withStore(['expiration'], async (store) => {
      const d = draft()
      await store.create(d)
      const before = Date.parse((await store.get(d.id))!.updatedAt!)
      expect(Number.isNaN(before)).toBe(false)
      await new Promise((r) => setTimeout(r, 30))
      await store.write(d.id, 0, chunksOf(randomBytes(10)))
      expect(Date.parse((await store.get(d.id))!.updatedAt!)).toBeGreaterThan(before)
    }))

    it('keeps a deferred length undefined', withStore([], async (store) => {
      const d = draft({ length: undefined })
      await store.create(d)
      expect((await store.get(d.id))?.length).toBeUndefined()
    }))

    it('refuses an id that is taken with TusError ID_TAKEN', withStore([], async (store) => {
      const d = draft()
      await store.create(d)
      await expect(store.create(d)).rejects.toMatchObject({ code: 'ID_TAKEN' })
      await expect(store.create(d)).rejects.toBeInstanceOf(TusError)
    }))

    it('answers undefined for an unknown or malformed id', withStore([], async (store) => {
      expect(await store.get(generateId())).toBeUndefined()
      for (const id of ['../etc/passwd', '..', 'a/b', 'a\\b', 'x\0y', '']) expect(await store.get(id)).toBeUndefined()
    }))

    withBytes('writes at the offset', [], async (store, bytes) => {
      const data = randomBytes(300_000)
      const d = draft({ length: data.length })
      await store.create(d)
      expect(await store.write(d.id, 0, chunksOf(data))).toBe(data.length)
      expect((await store.get(d.id))?.offset).toBe(data.length)
      await bytes(d.id, data)
    })

    withBytes('resumes: successive writes append', [], async (store, bytes) => {
      const data = randomBytes(100_000)
      const d = draft({ length: data.length })
      await store.create(d)
      let offset = 0
      for (const cut of [1, 40_000, 40_001, 100_000]) {
        offset = await store.write(d.id, offset, chunksOf(data.subarray(offset, cut), 7777))
        expect(offset).toBe(cut)
        expect((await store.get(d.id))?.offset).toBe(cut)
      }
      await bytes(d.id, data)
    })

    withBytes('keeps every byte consumed before an interrupted write', [], async (store, bytes) => {
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
      await bytes(d.id, data)
      expect(await store.write(d.id, 50_000, chunksOf(data))).toBe(100_000)
    })

    it('updates length, completedAt and metadata durably', withStore([], async (store) => {
      const d = draft({ length: undefined })
      await store.create(d)
      const completedAt = new Date().toISOString()
      const updated = await store.update(d.id, { length: 0, completedAt, metadata: { k: 'v' } })
      expect(updated).toMatchObject({ id: d.id, length: 0, completedAt, metadata: { k: 'v' }, offset: 0 })
      expect(withoutUpdatedAt(await store.get(d.id))).toEqual(withoutUpdatedAt(updated))
    }))

    it('reads a byte range', withStore(['read'], async (store) => {
      const data = randomBytes(5_000)
      const d = draft({ length: data.length })
      await store.create(d)
      await store.write(d.id, 0, chunksOf(data, 999))
      const part = await readAll(await store.read!(d.id, { start: 100, end: 1_099 }))
      expect(part.equals(data.subarray(100, 1_100))).toBe(true)
    }))

    it('removes an upload and its bytes', withStore(['termination'], async (store) => {
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

    withBytes('serves concurrent writes to different uploads without mixing bytes', [], async (store, bytes) => {
      const uploads = Array.from({ length: 8 }, () => ({ data: randomBytes(200_000), d: draft({ length: 200_000 }) }))
      await Promise.all(uploads.map(({ d }) => store.create(d)))
      await Promise.all(uploads.map(({ d, data }) => store.write(d.id, 0, chunksOf(data, 4096))))
      for (const { d, data } of uploads) {
        expect((await store.get(d.id))?.offset).toBe(data.length)
        await bytes(d.id, data)
      }
    })
  })
}
