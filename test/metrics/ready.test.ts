/** uploads.ready(): resolves when the store and the locker answer, rejects with the failure otherwise. */
import { describe, expect, it } from 'vitest'
import { FileStore, MemoryLocker, MemoryStore, tus, type Locker } from 'tus-middleware'
import { useCleanup } from '../helpers/cleanup.js'
import { InstrumentedStore, ioError } from '../helpers/instrumented-store.js'
import { tempDir } from '../helpers/server.js'

const defer = useCleanup()

describe('uploads.ready()', () => {
  it('resolves for a working store, asking it for an upload and creating nothing', async () => {
    const dir = await tempDir()
    defer(dir.remove)
    const store = new FileStore({ directory: dir.path })
    const asked: string[] = []
    const get = store.get.bind(store)
    store.get = (id) => (asked.push(id), get(id))
    await expect(tus({ store }).ready()).resolves.toBeUndefined()
    expect(asked).toHaveLength(1)
    let count = 0
    for await (const _ of store.list()) count++
    expect(count).toBe(0)
  })

  it("rejects with the store's error when its get() fails", async () => {
    const store = new InstrumentedStore(new MemoryStore())
    store.fault = { method: 'get', code: 'ECONNREFUSED' }
    await expect(tus({ store }).ready()).rejects.toMatchObject({ code: 'ECONNREFUSED' })
    store.fault = undefined
    await expect(tus({ store }).ready()).resolves.toBeUndefined()
  })

  it("uses the store's own ready() when it has one", async () => {
    const store = Object.assign(new MemoryStore(), { ready: () => Promise.reject(ioError('EHOSTUNREACH')) })
    await expect(tus({ store }).ready()).rejects.toMatchObject({ code: 'EHOSTUNREACH' })
  })

  it("asks the locker's ready() when it has one, and rejects with its failure", async () => {
    let up = false
    const inner = new MemoryLocker()
    const locker: Locker = {
      lock: (id, options) => inner.lock(id, options),
      ready: async () => {
        if (!up) throw new Error('locker backend unreachable')
      },
    }
    const uploads = tus({ store: new MemoryStore(), locker })
    await expect(uploads.ready()).rejects.toThrow('locker backend unreachable')
    up = true
    await expect(uploads.ready()).resolves.toBeUndefined()
  })
})
