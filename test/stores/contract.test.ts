import { rm } from 'node:fs/promises'
import { mkdtempSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { FileStore, MemoryStore, type DataStore } from 'tus-middleware'
import { storeContract } from '../../lib/testing/index.js'

storeContract('MemoryStore', () => new MemoryStore())
storeContract('FileStore', () => new FileStore({ directory: mkdtempSync(join(tmpdir(), 'tus-contract-')) }), {
  cleanup: (store) => rm((store as FileStore).directory, { recursive: true, force: true }),
})
storeContract('FileStore (syncWrites)', () => new FileStore({ directory: mkdtempSync(join(tmpdir(), 'tus-contract-')), syncWrites: true }), {
  cleanup: (store) => rm((store as FileStore).directory, { recursive: true, force: true }),
})

/**
 * A store with only the core methods: the cases for what it lacks are skipped (saying so), every other one runs.
 * Built from a MemoryStore by hiding its optional methods.
 */
function coreOnly(store: MemoryStore): DataStore {
  return {
    capabilities: [],
    create: (d) => store.create(d),
    get: (id) => store.get(id),
    write: (id, offset, chunks) => store.write(id, offset, chunks),
    truncate: (id, offset) => store.truncate(id, offset),
    update: (id, changes) => store.update(id, changes),
  }
}
storeContract('a store with no optional capabilities', () => coreOnly(new MemoryStore()))
