/**
 * Crash safety of the expiry sweep: many small uploads go idle, a server with a short expireAfter and
 * cleanupInterval starts sweeping them, and is SIGKILLed mid-sweep. Restarted (without expiry) on the same
 * directory, every upload either is gone (404 or 410) — only an unfinished one — or is intact: the offset it
 * had, and the same bytes. Never a 500, never a record that answers 200 without its bytes, and an upload once
 * gone stays gone.
 */
import { existsSync } from 'node:fs'
import { readdir } from 'node:fs/promises'
import { fileURLToPath } from 'node:url'
import { afterAll, beforeAll, expect, it } from 'vitest'
import { randomData, sha256 } from '../helpers/bytes.js'
import { startChildServer, type ChildServer } from '../helpers/child-server.js'
import { acknowledge, header, send, verifyUpload, type Tracked } from '../helpers/crash-client.js'
import { sleep, until } from '../helpers/raw.js'
import { tempDir } from '../helpers/server.js'

const DIST = fileURLToPath(new URL('../../dist/esm/index.js', import.meta.url))
const ROUNDS = 6
const PER_ROUND = 100
const EXPIRE_AFTER_MS = 300
const EXPIRY = { EXPIRE_AFTER_MS: String(EXPIRE_AFTER_MS), CLEANUP_INTERVAL_MS: '20', LOG_EXPIRED: '1' }
const OCTET = { 'Content-Type': 'application/offset+octet-stream' }

interface Idle extends Tracked {
  id: string
  /** Answered 404/410 after a restart: it must stay gone. */
  gone: boolean
  /** A GET read back its bytes after a sweep left it alone (later rounds check HEAD and the disk only). */
  readBack?: boolean
}

let dir: Awaited<ReturnType<typeof tempDir>>
let child: ChildServer | undefined
beforeAll(async () => {
  dir = await tempDir('tus-crash-expiry-')
})
afterAll(async () => {
  await child?.kill()
  await dir.remove()
})

/** Creates `n` small uploads with their bytes in the POST: a third of them complete, the others half-done. */
async function createIdle(origin: string, n: number): Promise<Idle[]> {
  const created: Idle[] = []
  const one = async (i: number) => {
    const data = randomData(2048 + Math.floor(Math.random() * 6144))
    const complete = i % 3 === 0
    const body = complete ? data : data.subarray(0, data.length >> 1)
    const res = await send(`${origin}/files`, {
      method: 'POST',
      headers: { 'Upload-Length': data.length, ...OCTET, 'Content-Length': body.length },
      pieces: [body],
    })
    expect(res.status).toBe(201)
    const path = new URL(header(res, 'location')!).pathname
    const upload: Idle = { data, path, id: path.split('/').pop()!, acked: 0, complete, gone: false }
    expect(acknowledge(upload, res)).toBe(body.length)
    created.push(upload)
  }
  for (let i = 0; i < n; i += 16) await Promise.all(Array.from({ length: Math.min(16, n - i) }, (_, j) => one(i + j)))
  return created
}

/**
 * After a restart: gone (only an unfinished upload, and for good) or intact. Returns how many answered gone
 * for the first time. Uploads already gone are asked again only when `all`.
 */
async function verifyAll(origin: string, uploads: Idle[], all = false): Promise<number> {
  let newlyGone = 0
  const verifyOne = async (upload: Idle) => {
    const head = await send(`${origin}${upload.path}`, { method: 'HEAD' })
    if (head.status === 404 || head.status === 410) {
      expect(upload.complete, `a complete upload was removed: ${upload.id}`).toBe(false)
      if (!upload.gone) newlyGone++
      upload.gone = true
      return
    }
    expect(upload.gone, `${upload.id} came back after it was gone`).toBe(false)
    // Intact: the offset it had, and exactly its bytes, on disk and through GET.
    expect(await verifyUpload(origin, dir.path, upload)).toBe(upload.acked)
    if (upload.readBack) return
    upload.readBack = true
    const get = await send(`${origin}${upload.path}`, { method: 'GET' })
    expect(get.status).toBe(200)
    expect(sha256(get.body)).toBe(sha256(upload.data.subarray(0, upload.acked)))
  }
  const asked = all ? uploads : uploads.filter((u) => !u.gone)
  for (let i = 0; i < asked.length; i += 16) await Promise.all(asked.slice(i, i + 16).map(verifyOne))
  return newlyGone
}

it(`the expiry sweep survives SIGKILLs mid-sweep over ${ROUNDS} rounds`, { timeout: 90_000 }, async () => {
  expect(existsSync(DIST), 'the package must be built (npm run build)').toBe(true)
  const uploads: Idle[] = []
  let sweepsCut = 0
  let removedBeforeKills = 0
  for (let round = 0; round < ROUNDS; round++) {
    // Uploads are created by a server without expiry, then left idle past expireAfter.
    let server = (child = await startChildServer(dir.path))
    uploads.push(...(await createIdle(server.origin, PER_ROUND)))
    await server.kill()
    await sleep(EXPIRE_AFTER_MS + 50)

    // A sweeping server, killed a moment after its first removal.
    server = child = await startChildServer(dir.path, 0, EXPIRY)
    const removed = () => (server.output().match(/^expired /gm) ?? []).length
    await until(() => removed() > 0, 10_000, 'the first expired upload')
    await sleep(Math.random() * 20)
    await server.kill()
    removedBeforeKills += removed()

    server = child = await startChildServer(dir.path)
    const eligible = uploads.filter((u) => !u.complete && !u.gone).length
    const newlyGone = await verifyAll(server.origin, uploads)
    // Some unfinished uploads removed and some not: the kill cut the sweep.
    if (newlyGone > 0 && newlyGone < eligible) sweepsCut++
    await server.kill()
  }

  // Sweeps left to finish: every unfinished upload ends gone, every complete one intact.
  const left = uploads.filter((u) => !u.complete && !u.gone).length
  let server = (child = await startChildServer(dir.path, 0, EXPIRY))
  await until(() => (server.output().match(/^expired /gm) ?? []).length >= left, 10_000, 'the last sweep')
  await server.kill()
  server = child = await startChildServer(dir.path)
  for (const upload of uploads) upload.readBack = false
  await verifyAll(server.origin, uploads, true)
  await server.kill()
  for (const upload of uploads) expect(upload.gone).toBe(!upload.complete)

  // Files of uploads that are gone, left by kills between the removal of a record and of its bytes.
  const names = await readdir(dir.path)
  const leftovers = names.filter((name) => uploads.some((u) => u.gone && name.startsWith(`${u.id}.`)))
  console.log(
    `expiry crash test: ${ROUNDS} kills mid-sweep, ${sweepsCut} sweeps cut part-way, ${removedBeforeKills} removals reported before the kills, ` +
      `${uploads.length} uploads (${uploads.filter((u) => u.gone).length} expired), ${leftovers.length} files of removed uploads left on disk`,
  )
  expect(sweepsCut, 'kills that landed in the middle of a sweep').toBeGreaterThanOrEqual(1)
})
