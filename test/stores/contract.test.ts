import { rm } from 'node:fs/promises'
import { mkdtempSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { FileStore, MemoryStore } from 'tus-middleware'
import { storeContract } from '../../lib/testing/index.js'

storeContract('MemoryStore', () => new MemoryStore())
storeContract('FileStore', () => new FileStore({ directory: mkdtempSync(join(tmpdir(), 'tus-contract-')) }), {
  cleanup: (store) => rm((store as FileStore).directory, { recursive: true, force: true }),
})
storeContract('FileStore (syncWrites)', () => new FileStore({ directory: mkdtempSync(join(tmpdir(), 'tus-contract-')), syncWrites: true }), {
  cleanup: (store) => rm((store as FileStore).directory, { recursive: true, force: true }),
})
