// FileStore's record cache: what it serves, how it is invalidated, bounded, and turned off.
import { readFile, stat, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { afterEach, beforeEach, describe, expect, it } from 'vitest'
import { FileStore } from 'tus-middleware'
import { copyRecord, RecordCache } from '../../lib/stores/record-cache.js'
import { tempDir } from '../helpers/server.js'

let dir: Awaited<ReturnType<typeof tempDir>>
beforeEach(async () => {
  dir = await tempDir()
})
afterEach(() => dir.remove())

async function* body(text: string): AsyncGenerator<Buffer> {
  yield Buffer.from(text)
}

const draft = (id: string, length = 10) => ({ id, length, metadata: { name: 'a.txt' }, createdAt: new Date(0).toISOString() })

/** Changes a record behind the store's back, as another process would. */
async function rewriteRecord(id: string, change: Record<string, unknown>): Promise<void> {
  const path = join(dir.path, `${id}.json`)
  const record = JSON.parse(await readFile(path, 'utf8'))
  await writeFile(path, JSON.stringify({ ...record, ...change }))
}

describe('FileStore record cache', () => {
  it('serves each caller its own objects: changing one does not change the store', async () => {
    const store = new FileStore({ directory: dir.path })
    await store.create(draft('one'))
    const first = (await store.get('one'))!
    first.metadata.name = 'changed'
    first.length = 99
    const again = (await store.get('one'))!
    expect(again.metadata).toEqual({ name: 'a.txt' })
    expect(again.length).toBe(10)
  })

  it('reflects update() and remove() made through the store', async () => {
    const store = new FileStore({ directory: dir.path })
    await store.create({ ...draft('two'), length: undefined })
    await store.update('two', { length: 5 })
    expect((await store.get('two'))!.length).toBe(5)
    // The file on disk says the same as the cache.
    const lines = (await readFile(join(dir.path, 'two.json'), 'utf8')).split('\n').filter(Boolean)
    expect(JSON.parse(lines.at(-1)!).length).toBe(5)
    await store.remove('two')
    expect(await store.get('two')).toBeUndefined()
  })

  it('knows the offset it wrote without asking the disk; a new store (a restart) reads it from the .bin file', async () => {
    const store = new FileStore({ directory: dir.path })
    await store.create(draft('three'))
    await store.write('three', 0, body('abc'))
    const written = (await store.get('three'))!
    expect(written.offset).toBe(3)
    expect(Date.parse(written.updatedAt!)).toBeGreaterThan(Date.now() - 60_000)
    // Behind the store's back (as another process would): this store still answers from what it wrote...
    await writeFile(join(dir.path, 'three.bin'), 'd', { flag: 'a' })
    expect((await store.get('three'))!.offset).toBe(3)
    // ...and one started on the directory, like a restarted process, reads the file.
    const restarted = new FileStore({ directory: dir.path })
    expect((await restarted.get('three'))!.offset).toBe(4)
    const { mtime } = await stat(join(dir.path, 'three.bin'))
    expect((await restarted.get('three'))!.updatedAt).toBe(mtime.toISOString())
  })

  it('knows the offset after a discarded stage, and stats again after a write that failed part-way', async () => {
    const store = new FileStore({ directory: dir.path })
    await store.create(draft('cut'))
    await store.write('cut', 0, body('ab'))
    await store.write('cut', 2, body('cdef'), { staged: true })
    await store.discard('cut', 2)
    expect((await store.get('cut'))!.offset).toBe(2)
    expect((await stat(join(dir.path, 'cut.bin'))).size).toBe(2)
    async function* failing(): AsyncGenerator<Buffer> {
      yield Buffer.from('xyz')
      throw new Error('connection lost')
    }
    await expect(store.write('cut', 2, failing())).rejects.toThrow('connection lost')
    // The gathered bytes were written before the error surfaced; the size on disk is what counts.
    const { size } = await stat(join(dir.path, 'cut.bin'))
    expect((await store.get('cut'))!.offset).toBe(size)
  })

  it('with cacheSize 0 reads the offset from disk every time', async () => {
    const store = new FileStore({ directory: dir.path, cacheSize: 0 })
    await store.create(draft('five'))
    await writeFile(join(dir.path, 'five.bin'), 'abcd', { flag: 'a' })
    expect((await store.get('five'))!.offset).toBe(4)
  })

  it('with cacheSize 0 reads every record from disk (several processes sharing a directory)', async () => {
    const store = new FileStore({ directory: dir.path, cacheSize: 0 })
    await store.create(draft('four'))
    await store.get('four')
    await rewriteRecord('four', { completedAt: '2020-01-01T00:00:00.000Z' })
    expect((await store.get('four'))!.completedAt).toBe('2020-01-01T00:00:00.000Z')
  })

  it('is bounded: the least recently used record is dropped and read again from disk', async () => {
    const store = new FileStore({ directory: dir.path, cacheSize: 1 })
    await store.create(draft('old'))
    await store.create(draft('new')) // evicts 'old'
    await rewriteRecord('old', { length: 7 })
    expect((await store.get('old'))!.length).toBe(7)
  })

  it('refuses a cacheSize that is not a non-negative integer', () => {
    expect(() => new FileStore({ directory: dir.path, cacheSize: -1 })).toThrow(/cacheSize/)
    expect(() => new FileStore({ directory: dir.path, cacheSize: 1.5 })).toThrow(TypeError)
  })
})

describe('RecordCache', () => {
  const v = (n: number) => ({ ...draft(`r${n}`, n) })

  it('keeps its own frozen copy: neither the object it was given nor a copy handed out changes it', () => {
    const cache = new RecordCache(10)
    const given = v(1)
    cache.set('a', given, 1)
    given.metadata.name = 'changed'
    const cached = cache.get('a')!.record
    expect(cached.metadata.name).toBe('a.txt')
    expect(Object.isFrozen(cached) && Object.isFrozen(cached.metadata)).toBe(true)
    const copy = copyRecord(cached)
    copy.metadata.name = 'mine'
    expect(cache.get('a')!.record.metadata.name).toBe('a.txt')
  })

  it('does not cache a record read while the store changed records: the read may predate the change', () => {
    const cache = new RecordCache(10)
    const before = cache.version
    cache.set('a', v(2), 1) // the store rewrote a record while the read was in flight
    cache.fill('a', v(1), 1, before)
    expect(cache.get('a')?.record).toEqual(v(2))
    const again = cache.version
    cache.delete('b')
    cache.fill('b', v(0), 1, again)
    expect(cache.get('b')).toBeUndefined()
  })

  it('does not cache a size found by a stat while the store changed a data file: the stat may predate it', () => {
    const cache = new RecordCache(10)
    cache.fill('a', v(1), 1, cache.version)
    const before = cache.fileVersion
    cache.resized('other', 10) // any data file changed while the stat was in flight
    cache.fillFile('a', 5, 1000, before)
    expect(cache.get('a')?.size).toBeUndefined()
    cache.fillFile('a', 5, 1000, cache.fileVersion)
    expect(cache.get('a')).toMatchObject({ size: 5, mtimeMs: 1000 })
    // A record rewrite keeps what is known of the data file, unless the file changed in between.
    cache.set('a', v(2), 2, cache.drop('a'))
    expect(cache.get('a')).toMatchObject({ record: v(2), size: 5 })
    const known = cache.drop('a')
    cache.resized('a', 7)
    cache.set('a', v(3), 3, known)
    expect(cache.get('a')?.size).toBeUndefined()
  })

  it('caches a record read when nothing changed meanwhile, and holds at most its size', () => {
    const cache = new RecordCache(2)
    const version = cache.version
    cache.fill('a', v(0), 1, version)
    cache.fill('b', v(1), 1, version)
    expect(cache.get('a')?.record).toEqual(v(0)) // 'a' is now the most recently used
    cache.fill('c', v(2), 1, version)
    expect(cache.get('b')).toBeUndefined()
    expect(cache.get('a')?.record).toEqual(v(0))
    expect(cache.get('c')?.record).toEqual(v(2))
  })
})
