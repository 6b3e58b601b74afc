// Which FileStore record changes are fsynced: creation and a declared length always; a completion only with
// syncWrites, like the bytes it marks.
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest'
import { tempDir } from '../helpers/server.js'

const syncs = vi.hoisted(() => ({ calls: [] as boolean[], fail: false }))
vi.mock('../../lib/stores/descriptors.js', async (importOriginal) => {
  const original = await importOriginal<typeof import('../../lib/stores/descriptors.js')>()
  return {
    ...original,
    syncFd: (fd: number, dataOnly = false) => {
      syncs.calls.push(dataOnly)
      if (syncs.fail) return Promise.reject(Object.assign(new Error('EIO: i/o error, fdatasync'), { code: 'EIO' }))
      return original.syncFd(fd, dataOnly)
    },
  }
})
const { FileStore } = await import('../../lib/stores/file-store.js')

let dir: Awaited<ReturnType<typeof tempDir>>
beforeEach(async () => {
  dir = await tempDir()
  syncs.calls.length = 0
  syncs.fail = false
})
afterEach(() => dir.remove())

const draft = { id: 'up', metadata: {}, createdAt: new Date(0).toISOString() }

describe('FileStore record fsyncs', () => {
  it('syncs a creation and a declared length; a completion without syncWrites goes to the page cache only', async () => {
    const store = new FileStore({ directory: dir.path })
    await store.create(draft)
    expect(syncs.calls).toEqual([false])
    await store.update('up', { length: 0 })
    expect(syncs.calls).toEqual([false, true])
    await store.update('up', { completedAt: new Date().toISOString() })
    expect(syncs.calls).toEqual([false, true])
    // Still recorded: a new store (a restarted process) reads it.
    expect((await new FileStore({ directory: dir.path }).get('up'))?.completedAt).toBeDefined()
  })

  it('with syncWrites syncs the completion too', async () => {
    const store = new FileStore({ directory: dir.path, syncWrites: true })
    await store.create({ ...draft, length: 0 })
    await store.update('up', { completedAt: new Date().toISOString() })
    expect(syncs.calls).toEqual([false, true])
  })

  it('a change whose sync fails is undone: the record is the one before, now and after a restart', async () => {
    const store = new FileStore({ directory: dir.path })
    await store.create(draft)
    syncs.fail = true
    await expect(store.update('up', { length: 5 })).rejects.toThrow('EIO')
    syncs.fail = false
    expect((await store.get('up'))?.length).toBeUndefined()
    expect((await new FileStore({ directory: dir.path }).get('up'))?.length).toBeUndefined()
    // And the upload takes changes again.
    await store.update('up', { length: 5 })
    expect((await new FileStore({ directory: dir.path }).get('up'))?.length).toBe(5)
  })
})
