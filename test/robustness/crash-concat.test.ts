/**
 * Crash safety of concatenation: the server process is SIGKILLed while partial uploads receive bytes and while
 * final uploads (several MiB) are assembled — during the POST that creates a final whose parts are all done,
 * and in the background after the PATCH that completes a final's last part. Many kills are timed to land while
 * the assembly's temp file is being written. After every restart, a final answers HEAD with no Upload-Offset
 * while a part is unfinished, and with its whole length once every part is (the HEAD assembles it if a kill
 * cut the assembly short); an assembled final reads back exactly as its parts' bytes, in order.
 */
import { existsSync } from 'node:fs'
import { readdir } from 'node:fs/promises'
import { fileURLToPath } from 'node:url'
import { afterAll, beforeAll, expect, it } from 'vitest'
import { randomData, sha256 } from '../helpers/bytes.js'
import { startChildServer, type ChildServer } from '../helpers/child-server.js'
import { acknowledge, CutCounter, header, send, verifyUpload, type Tracked } from '../helpers/crash-client.js'
import { sleep } from '../helpers/raw.js'
import { tempDir } from '../helpers/server.js'

const DIST = fileURLToPath(new URL('../../dist/esm/index.js', import.meta.url))
const KILLS = 14
const CHUNK = 1024 * 1024
const OCTET = { 'Content-Type': 'application/offset+octet-stream' }
const isTemp = (name: string): boolean => name.endsWith('.concat.tmp')

interface Final {
  path: string
  length: number
  /** A HEAD showed it assembled: it must stay so. */
  assembled: boolean
}

interface ConcatSet {
  parts: Tracked[]
  /** 'creation': the final is created once its parts are done (assembled during its POST); 'background':
   * created first, assembled after the PATCH that completes its last part. */
  mode: 'creation' | 'background'
  final?: Final
  done: boolean
}

/** Ends a set's round when the server dies under one of its requests. */
class Stop extends Error {}

const counter = new CutCounter()
let dir: Awaited<ReturnType<typeof tempDir>>
let child: ChildServer | undefined
beforeAll(async () => {
  dir = await tempDir('tus-crash-concat-')
})
afterAll(async () => {
  await child?.kill()
  await dir.remove()
})

/** Runs one request of `kind`; a connection failure is counted and ends the set's round. */
async function op<T>(kind: string, fn: () => Promise<T>): Promise<T> {
  counter.started(kind)
  try {
    return await fn()
  } catch (err) {
    counter.failed(kind, err)
    throw new Stop()
  }
}

const concatenation = (set: ConcatSet): Buffer => Buffer.concat(set.parts.map((p) => p.data))

async function drivePart(origin: string, part: Tracked): Promise<void> {
  if (!part.path) {
    const res = await op('part-create', () =>
      send(`${origin}/files`, { method: 'POST', headers: { 'Upload-Length': part.data.length, 'Upload-Concat': 'partial' } }),
    )
    expect(res.status).toBe(201)
    part.path = new URL(header(res, 'location')!).pathname
  }
  let offset = await op('head', () => verifyUpload(origin, dir.path, part))
  while (offset < part.data.length) {
    const chunk = part.data.subarray(offset, offset + CHUNK)
    const res = await op('part-patch', () =>
      send(`${origin}${part.path}`, { method: 'PATCH', headers: { ...OCTET, 'Upload-Offset': offset, 'Content-Length': chunk.length }, pieces: [chunk] }),
    )
    expect(res.status).toBe(204)
    offset = acknowledge(part, res)
  }
  part.complete = true
}

async function createFinal(origin: string, set: ConcatSet): Promise<void> {
  const res = await op('final-create', () =>
    send(`${origin}/files`, { method: 'POST', headers: { 'Upload-Concat': `final;${set.parts.map((p) => p.path).join(' ')}` } }),
  )
  expect(res.status).toBe(201)
  set.final = { path: new URL(header(res, 'location')!).pathname, length: concatenation(set).length, assembled: false }
}

/**
 * HEAD on a final agrees with its parts: no offset while one is unfinished, the whole length once all are
 * done (this HEAD assembles it if needed), and then the exact bytes. Returns whether it is assembled.
 */
async function verifyFinal(origin: string, set: ConcatSet, partsDone: boolean): Promise<boolean> {
  const final = set.final!
  const res = await op('final-head', () => send(`${origin}${final.path}`, { method: 'HEAD' }))
  expect(res.status, `HEAD of final ${final.path}`).toBe(200)
  expect(header(res, 'upload-length')).toBe(String(final.length))
  const offset = header(res, 'upload-offset')
  if (!partsDone) {
    expect(final.assembled).toBe(false)
    expect(offset, 'a final with an unfinished part shows no offset').toBeUndefined()
    return false
  }
  expect(offset, `offset of final ${final.path}, every part done`).toBe(String(final.length))
  final.assembled = true
  const body = await op('final-get', () => send(`${origin}${final.path}`, { method: 'GET' }))
  expect(body.status).toBe(200)
  expect(sha256(body.body), `bytes of final ${final.path}`).toBe(sha256(concatenation(set)))
  return true
}

async function driveSet(origin: string, set: ConcatSet): Promise<void> {
  try {
    for (const part of set.parts) if (!part.path) await drivePart(origin, part)
    if (set.mode === 'background' && !set.final) await createFinal(origin, set)
    await Promise.all(set.parts.map((part) => drivePart(origin, part)))
    if (!set.final) await createFinal(origin, set)
    set.done = await verifyFinal(origin, set, true)
  } catch (err) {
    if (!(err instanceof Stop)) throw err
  }
}

/** Resolves once a part's PATCH started after `before` were sent (or after half a second, or `stop`). */
async function patchStarted(before: number, stop: { done: boolean }): Promise<void> {
  const deadline = Date.now() + 500
  while (!stop.done && (counter.sent['part-patch'] ?? 0) <= before && Date.now() < deadline) await sleep(1)
}

const tempOf = (final: Final): string => `.${final.path.split('/').pop()}.concat.tmp`

/** Resolves once a new assembly temp file that `wanted` picks appears (or `stop` says so). */
async function tempAppears(wanted: (name: string) => boolean, stop: { done: boolean }): Promise<void> {
  while (!stop.done) {
    if ((await readdir(dir.path)).some((name) => isTemp(name) && wanted(name))) return
    await sleep(1)
  }
}

it(`final uploads survive ${KILLS} SIGKILLs around their assembly`, { timeout: 90_000 }, async () => {
  expect(existsSync(DIST), 'the package must be built (npm run build)').toBe(true)
  const sets: ConcatSet[] = []
  const part = (): Tracked => ({ data: randomData(2_500_000 + Math.floor(Math.random() * 1_500_000)), acked: 0, complete: false })
  const add = () => sets.push({ parts: [part(), part()], mode: sets.length % 2 === 0 ? 'creation' : 'background', done: false })
  let kills = 0
  /** Kills that cut an assembly mid-copy, by where it ran. */
  const assembliesCut = { creation: 0, background: 0 }
  let start: ChildServer
  const verifyAll = async () => {
    for (const set of sets) {
      let partsDone = true
      for (const p of set.parts) partsDone = (p.path !== undefined && (await verifyUpload(start.origin, dir.path, p)) === p.data.length) && partsDone
      if (set.final) set.done = await verifyFinal(start.origin, set, partsDone)
    }
  }
  while (kills < KILLS) {
    start = child = await startChildServer(dir.path)
    // After every restart: every part and final the client knows about is consistent, finals whose parts are
    // done are assembled (by this HEAD if a kill cut their assembly).
    await verifyAll()
    while (sets.filter((s) => !s.done).length < 2) add()
    const known = new Set((await readdir(dir.path)).filter(isTemp))
    const stop = { done: false }
    const work = Promise.all(sets.filter((s) => !s.done).map((s) => driveSet(start.origin, s)))
    // Half of the kills wait for an assembly to start writing (in turn one in a final's POST, one in the
    // background after a part's last PATCH).
    const background = new Set(sets.flatMap((s) => (s.mode === 'background' && s.final ? [tempOf(s.final)] : [])))
    const wanted = kills % 4 === 0 ? (n: string) => !known.has(n) && !background.has(n) : (n: string) => !known.has(n) && background.has(n)
    // The others come at a random moment, or (every fourth) just after a part's PATCH started sending.
    const patches = counter.sent['part-patch'] ?? 0
    const trigger =
      kills % 2 === 0
        ? tempAppears(wanted, stop).then(() => sleep(Math.random() * 4))
        : kills % 4 === 3
          ? patchStarted(patches, stop).then(() => sleep(Math.random() * 3))
          : sleep(5 + Math.random() * 150)
    await Promise.race([work, trigger])
    await start.kill()
    stop.done = true
    kills++
    // A temp file that outlives the process: the kill cut an assembly mid-copy.
    for (const name of (await readdir(dir.path)).filter((n) => isTemp(n) && !known.has(n))) {
      // Only a final created first (background) was known to the client before its assembly started.
      const inBackground = sets.some((s) => s.mode === 'background' && s.final && name === tempOf(s.final))
      assembliesCut[inBackground ? 'background' : 'creation']++
    }
    await work
  }

  // A last run without a kill: every final ends assembled, byte-identical to its parts.
  start = child = await startChildServer(dir.path)
  await verifyAll()
  const cutBefore = counter.total()
  await Promise.all(sets.filter((s) => !s.done).map((s) => driveSet(start.origin, s)))
  expect(counter.total()).toBe(cutBefore)
  for (const set of sets) expect(set.done).toBe(true)
  await start.kill()

  console.log(
    `concat crash test: ${kills} kills, assemblies cut mid-copy: ${assembliesCut.creation} in a final's POST, ` +
      `${assembliesCut.background} in the background; ${counter.total()} requests cut ` +
      `(cut/sent: ${counter.summary()}), ${sets.length} finals (${sets.filter((s) => s.mode === 'creation').length} assembled at creation)`,
  )
  expect(assembliesCut.creation + assembliesCut.background, 'kills that landed while a final was being assembled').toBeGreaterThanOrEqual(1)
  expect(counter.cut['final-create'] ?? 0, 'POSTs of finals cut by a kill').toBeGreaterThanOrEqual(1)
  expect(counter.cut['part-patch'] ?? 0, 'PATCHes of parts cut by a kill').toBeGreaterThanOrEqual(1)
})
