/**
 * FileStore's staged writes (checksummed or unsized bodies) as a crash or a second process sees them: bytes not
 * verified yet never count in the offset; nothing is cut back when a store starts (a second process may be
 * writing); a stage its writer left behind is dropped by the next write; a record line cut short by a crash
 * changes nothing.
 */
import { appendFile, readFile, stat } from 'node:fs/promises'
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

/** A body that yields its parts, then hangs until `release` resolves (a request still streaming). */
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

async function setUp(): Promise<{ path: string; store: FileStore; before: Buffer }> {
  const dir = await tempDir()
  dirs.push(dir)
  const before = randomData(100)
  const store = new FileStore({ directory: dir.path, cacheSize: 0 })
  await store.create({ id: 'up', ...created })
  await store.write('up', 0, chunks(before))
  return { path: dir.path, store, before }
}

it('a second store on the directory neither counts nor cuts another one\'s staged write in progress', async () => {
  const { path, store, before } = await setUp()
  const staged = randomData(200)
  const body = hanging([staged])
  const writing = store.write('up', 100, body.body, { staged: true })
  await body.sent
  await new Promise((r) => setTimeout(r, 20))
  // Another process starts on the directory and looks at the upload while the first one still writes.
  const other = new FileStore({ directory: path, cacheSize: 0 })
  expect((await other.get('up'))!.offset).toBe(100)
  expect((await stat(join(path, 'up.bin'))).size).toBe(300)
  body.release()
  expect(await writing).toBe(300)
  expect(await store.commit('up', 100)).toBe(300)
  expect((await other.get('up'))!.offset).toBe(300)
  expect(sha256(await readFile(join(path, 'up.bin')))).toBe(sha256(Buffer.concat([before, staged])))
})

it('a stage whose writer died never counts, and the next write starts over it', async () => {
  const { path, before } = await setUp()
  const dead = new FileStore({ directory: path, cacheSize: 0 })
  await dead.write('up', 100, chunks(randomData(500)), { staged: true })
  // "Crash": the writer is gone; a restarted process finds the stage.
  const restarted = new FileStore({ directory: path })
  expect((await restarted.get('up'))!.offset).toBe(100)
  const next = randomData(50)
  expect(await restarted.write('up', 100, chunks(next))).toBe(150)
  expect((await restarted.get('up'))!.offset).toBe(150)
  expect(sha256(await readFile(join(path, 'up.bin')))).toBe(sha256(Buffer.concat([before, next])))
})

it('never counts zeros: a data file shorter than its stage start is taken as it is', async () => {
  const { path, store } = await setUp()
  // A record saying a stage starts at 500 while the data file holds 100 bytes (it was cut, say).
  const record = JSON.parse((await readFile(join(path, 'up.json'), 'utf8')).trim().split('\n').pop()!)
  await appendFile(join(path, 'up.json'), `\n${JSON.stringify({ ...record, staged: 500 })}\n`)
  expect((await store.get('up'))!.offset).toBe(100)
  expect((await new FileStore({ directory: path }).get('up'))!.offset).toBe(100)
  expect((await stat(join(path, 'up.bin'))).size).toBe(100)
})

it('a record line cut short by a crash leaves the upload as it was', async () => {
  const { path, store } = await setUp()
  await appendFile(join(path, 'up.json'), '\n{"id":"up","staged":1')
  expect((await store.get('up'))!.offset).toBe(100)
  expect((await new FileStore({ directory: path }).get('up'))!.offset).toBe(100)
})
