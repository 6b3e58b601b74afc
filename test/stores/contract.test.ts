import { rm } from 'node:fs/promises'
import { mkdtempSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { FileStore, MemoryStore, type DataStore } from 'tus-middleware'
import { storeContract } from '../../lib/testing/index.js'

const tempDir = () => mkdtempSync(join(tmpdir(), 'tus-contract-'))
const removeDir = (store: DataStore) => rm((store as FileStore).directory, { recursive: true, force: true })

storeContract('MemoryStore', () => new MemoryStore())
storeContract('FileStore', () => new FileStore({ directory: tempDir() }), { cleanup: removeDir })
storeContract('FileStore (syncWrites)', () => new FileStore({ directory: tempDir(), syncWrites: true }), { cleanup: removeDir })

/**
 * Two FileStore instances on one directory, as two processes serving it use them (cacheSize 0): every call
 * goes to the other instance than the one before, as a round-robin balancer would send requests.
 */
function twoInstances(directory: string): DataStore {
  const instances = [new FileStore({ directory, cacheSize: 0 }), new FileStore({ directory, cacheSize: 0 })]
  let turn = 0
  const next = (): FileStore => instances[turn++ % 2]
  const store = {
    capabilities: instances[0].capabilities,
    directory,
    create: (d) => next().create(d),
    get: (id) => next().get(id),
    write: (id, offset, body, options) => next().write(id, offset, body, options),
    commit: (id, offset) => next().commit(id, offset),
    discard: (id, offset) => next().discard(id, offset),
    update: (id, changes) => next().update(id, changes),
    remove: (id) => next().remove(id),
    read: (id, range) => next().read(id, range),
    concatenate: (id, parts) => next().concatenate(id, parts),
    link: (part, final) => next().link(part, final),
    linked: (part) => next().linked(part),
    idle: (before) => next().idle(before),
  } satisfies DataStore & { directory: string }
  return store
}
storeContract('two FileStore instances on one directory', () => twoInstances(tempDir()), { cleanup: removeDir })

/**
 * A store with only the core methods: the cases for what it lacks are skipped (saying so), every other one runs.
 * Built from a MemoryStore by hiding its optional methods.
 */
function coreOnly(store: MemoryStore): DataStore {
  return {
    capabilities: [],
    create: (d) => store.create(d),
    get: (id) => store.get(id),
    write: (id, offset, chunks, options) => store.write(id, offset, chunks, options),
    commit: (id, offset) => store.commit(id, offset),
    discard: (id, offset) => store.discard(id, offset),
    update: (id, changes) => store.update(id, changes),
  }
}
storeContract('a store with no optional capabilities', () => coreOnly(new MemoryStore()))
