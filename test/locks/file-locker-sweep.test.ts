// The expiry sweep runs whenever no other sweep holds its turn, also with a locker whose grants take several file
// operations (FileLocker).
import { describe, expect, it } from 'vitest'
import { FileLocker, FileStore, tus } from 'tus-middleware'
import { useCleanup } from '../helpers/cleanup.js'
import { sleep } from '../helpers/raw.js'
import { tempDir } from '../helpers/server.js'

const defer = useCleanup()

describe('the sweep with FileLocker', () => {
  it('cleanup() removes expired uploads on every call when no other sweep runs (FileLocker)', async () => {
    const dir = await tempDir()
    defer(dir.remove)
    const locker = new FileLocker({ directory: dir.path })
    defer(() => locker.close())
    const store = new FileStore({ directory: dir.path, cacheSize: 0 })
    const uploads = tus({ store, locker, expireAfter: 50, cleanupInterval: 0 })
    defer(() => uploads.close())
    const missed: number[] = []
    for (let round = 0; round < 20; round++) {
      await store.create({ id: `u${round}`, length: 10, metadata: {}, createdAt: new Date().toISOString() })
      await sleep(80)
      const removed = await uploads.cleanup()
      if (removed.length !== 1) missed.push(round)
    }
    expect(missed).toEqual([])
  })
})
