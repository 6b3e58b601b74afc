// FileStore's record cache: what it serves, how it is invalidated, bounded, and turned off.
import { readFile, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { afterEach, beforeEach, describe, expect, it } from 'vitest'
import { FileStore } from 'tus-middleware'
import { RecordCache } from '../../lib/stores/record-cache.js'
import { tempDir } from '../helpers/server.js'

let dir: Awaited<ReturnType<typeof tempDir>>
beforeEach(async () => {
  dir = await tempDir()
})
afterEach(() => dir.remove())

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
    expect(JSON.parse(await readFile(join(dir.path, 'two.json'), 'utf8')).length).toBe(5)
    await store.remove('two')
    expect(await store.get('two')).toBeUndefined()
  })

  it('never caches the offset: bytes appended to the .bin file show at once', async () => {
    const store = new FileStore({ directory: dir.path })
    await store.create(draft('three'))
    expect((await store.get('three'))!.offset).toBe(0)
    await writeFile(join(dir.path, 'three.bin'), 'abcd', { flag: 'a' })
    expect((await store.get('three'))!.offset).toBe(4)
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
  it('does not cache a record read while the store changed records: the read may predate the change', () => {
    const cache = new RecordCache(10)
    const before = cache.version
    cache.set('a', '{"v":2}') // the store rewrote a record while the read was in flight
    cache.fill('a', '{"v":1}', before)
    expect(cache.get('a')).toBe('{"v":2}')
    const again = cache.version
    cache.delete('b')
    cache.fill('b', '{"old":true}', again)
    expect(cache.get('b')).toBeUndefined()
  })

  it('caches a record read when nothing changed meanwhile, and holds at most its size', () => {
    const cache = new RecordCache(2)
    const v = cache.version
    cache.fill('a', 'A', v)
    cache.fill('b', 'B', v)
    expect(cache.get('a')).toBe('A') // 'a' is now the most recently used
    cache.fill('c', 'C', v)
    expect(cache.get('b')).toBeUndefined()
    expect(cache.get('a')).toBe('A')
    expect(cache.get('c')).toBe('C')
  })
})
