/**
 * FileStore crash-safety of checksummed writes: bytes not verified yet never count in the offset, and a
 * process that dies mid-request leaves them to be dropped by the next store on the directory.
 */
import { readdir, readFile } from 'node:fs/promises'
import { join } from 'node:path'
import { afterEach, expect, it } from 'vitest'
import { FileStore } from 'tus-middleware'
import { randomData, sha256 } from '../helpers/bytes.js'
import { tempDir } from '../helpers/server.js'

const dirs: Array<{ remove(): Promise<void> }> = []
afterEach(async () => {
  while (dirs.length) await dirs.pop()!.remove()
})

async function* chunks(...parts: Buffer[]): AsyncIterable<Buffer> {
  for (const part of parts) yield part
}

/** A body that yields its parts, then hangs until `release` resolves (a request cut off by a crash). */
function hanging(parts: Buffer[]): { body: AsyncIterable<Buffer>; release: () => void; sent: Promise<void> } {
  let release!: () => void
  let sentAll!: () => void
  const gate = new Promise<void>((r) => (release = r))
  const sent = new Promise<void>((r) => (sentAll = r))
  return {
    body: (async function* () {
      for (const part of parts) yield part
      sentAll()
      await gate
    })(),
    release,
    sent,
  }
}

const created = { metadata: {}, createdAt: new Date().toISOString(), length: 1000 }

it('does not count unverified bytes while a provisional write is in progress, and drops them after a crash', async () => {
  const dir = await tempDir()
  dirs.push(dir)
  const before = randomData(100)
  const store = new FileStore({ directory: dir.path })
  await store.create({ id: 'up', ...created })
  await store.write('up', 0, chunks(before))

  const body = hanging([randomData(200)])
  const writing = store.write('up', 100, body.body, { provisional: true })
  await body.sent
  await new Promise((r) => setTimeout(r, 20))
  // The bytes are on disk, but not part of the upload until verified.
  expect((await readFile(join(dir.path, 'up.bin'))).length).toBe(300)
  expect((await store.get('up'))!.offset).toBe(100)

  // "Crash": a new store (a new process) opens the directory while the marker is still there.
  const restarted = new FileStore({ directory: dir.path })
  const after = await restarted.get('up')
  expect(after!.offset).toBe(100)
  expect(sha256(await readFile(join(dir.path, 'up.bin')))).toBe(sha256(before))
  expect((await readdir(dir.path)).filter((f) => f.endsWith('.pending'))).toEqual([])
  body.release()
  await writing
})

it('keeps provisional bytes once committed, and cuts them on truncate', async () => {
  const dir = await tempDir()
  dirs.push(dir)
  const store = new FileStore({ directory: dir.path })
  await store.create({ id: 'up', ...created })
  const a = randomData(50)
  const b = randomData(70)
  expect(await store.write('up', 0, chunks(a), { provisional: true })).toBe(50)
  await store.commit('up')
  expect(await store.write('up', 50, chunks(b), { provisional: true })).toBe(120)
  await store.truncate('up', 50)
  expect((await store.get('up'))!.offset).toBe(50)
  // Nothing is left for a restarted store to undo.
  expect((await new FileStore({ directory: dir.path }).get('up'))!.offset).toBe(50)
  expect(sha256(await readFile(join(dir.path, 'up.bin')))).toBe(sha256(a))
  expect((await readdir(dir.path)).filter((f) => f.endsWith('.pending'))).toEqual([])
})
