/**
 * Crash safety of staged writes: the server process is SIGKILLed at random moments while uploads receive
 * checksummed PATCHes (right and deliberately wrong Upload-Checksum headers, and checksum trailers), chunked
 * PATCHes without Content-Length, bodies running past the length, and plain ones, and restarted on the same
 * directory each time. A wrong checksum gets 460 and a body past the length 413, and neither counts a byte.
 * After every restart, no upload's offset is below the highest one a response acknowledged, and the stored
 * bytes up to it are the source's; in the end every upload is complete and byte-identical.
 */
import { createHash } from 'node:crypto'
import { existsSync } from 'node:fs'
import { fileURLToPath } from 'node:url'
import { expect, it } from 'vitest'
import { randomData, sha256 } from '../helpers/bytes.js'
import { useCrashDirectory, type ChildServer } from '../helpers/child-server.js'
import { acknowledge, CutCounter, header, send, verifyUpload, type SendOptions, type Tracked } from '../helpers/crash-client.js'
import { sleep } from '../helpers/raw.js'

const DIST = fileURLToPath(new URL('../../dist/esm/index.js', import.meta.url))
const KILLS = 24
const CHUNK = 128 * 1024
const OCTET = { 'Content-Type': 'application/offset+octet-stream' }

type Kind = 'create' | 'head' | 'plain' | 'sha1' | 'sha1-wrong' | 'chunked' | 'trailer' | 'past-length'
/** PATCH kinds every run must have seen cut by a kill. */
const MUST_CUT: Kind[] = ['plain', 'sha1', 'sha1-wrong', 'chunked', 'trailer', 'past-length']

const sha1 = (data: Buffer): string => createHash('sha1').update(data).digest('base64')
const WRONG_SHA1 = sha1(Buffer.from('not the body'))

/** A few pieces, so that a chunked body really arrives as several chunks. */
const split = (data: Buffer, n = 4): Buffer[] => {
  const size = Math.ceil(data.length / n)
  const pieces: Buffer[] = []
  for (let i = 0; i < data.length; i += size) pieces.push(data.subarray(i, i + size))
  return pieces
}

function pickKind(remaining: number): Exclude<Kind, 'create' | 'head'> {
  const r = Math.random()
  if (r < 0.08 || (remaining <= CHUNK && r < 0.25)) return 'past-length'
  if (r < 0.35) return 'sha1'
  if (r < 0.5) return 'sha1-wrong'
  if (r < 0.65) return 'chunked'
  if (r < 0.75) return 'trailer'
  return 'plain'
}

const counter = new CutCounter()
const dir = useCrashDirectory('tus-crash-staged-')
const start = (): Promise<ChildServer> => dir.start()

/** The PATCH of one kind for `chunk` at `offset`. */
function patchRequest(upload: Tracked, offset: number, chunk: Buffer, kind: Exclude<Kind, 'create' | 'head'>): SendOptions {
  const headers: Record<string, string | number> = { ...OCTET, 'Upload-Offset': offset }
  switch (kind) {
    case 'plain':
      return { method: 'PATCH', headers: { ...headers, 'Content-Length': chunk.length }, pieces: [chunk] }
    case 'sha1':
    case 'sha1-wrong': {
      const checksum = `sha1 ${kind === 'sha1' ? sha1(chunk) : WRONG_SHA1}`
      return { method: 'PATCH', headers: { ...headers, 'Content-Length': chunk.length, 'Upload-Checksum': checksum }, pieces: [chunk] }
    }
    case 'chunked':
      return { method: 'PATCH', headers, pieces: split(chunk) }
    case 'trailer':
      return { method: 'PATCH', headers: { ...headers, Trailer: 'Upload-Checksum' }, pieces: split(chunk), trailers: { 'Upload-Checksum': `sha1 ${sha1(chunk)}` } }
    case 'past-length':
      // The rest of the upload and then some, chunked: refused whole.
      return { method: 'PATCH', headers, pieces: split(Buffer.concat([upload.data.subarray(offset), randomData(1000)])) }
  }
}

/** One PATCH of the given kind at `offset`; checks what a refused one leaves, returns the new offset. */
async function patchOnce(origin: string, upload: Tracked, offset: number, kind: Exclude<Kind, 'create' | 'head'>): Promise<number> {
  const url = `${origin}${upload.path}`
  const chunk = upload.data.subarray(offset, offset + CHUNK)
  counter.started(kind)
  const res = await send(url, patchRequest(upload, offset, chunk, kind))
  if (kind === 'sha1-wrong' || kind === 'past-length') {
    expect(res.status, `${kind} PATCH`).toBe(kind === 'sha1-wrong' ? 460 : 413)
    // Nothing of a refused body counts.
    const head = await send(url, { method: 'HEAD' })
    expect(head.status).toBe(200)
    expect(Number(header(head, 'upload-offset')), `offset after a ${kind} PATCH`).toBe(offset)
    return offset
  }
  expect(res.status, `${kind} PATCH: ${res.body}`).toBe(204)
  const next = acknowledge(upload, res)
  expect(next).toBe(offset + chunk.length)
  return next
}

/** Drives one upload as far as it gets; a killed server ends it (counted), the next round resumes from HEAD. */
async function drive(origin: string, upload: Tracked, kinds: (remaining: number) => Exclude<Kind, 'create' | 'head'> = pickKind): Promise<void> {
  let kind: Kind = 'create'
  try {
    if (!upload.path) {
      // Half of the uploads are created with their first chunk (creation-with-upload).
      const withBody = upload.data.length % 2 === 0
      counter.started(kind)
      const res = await send(`${origin}/files`, {
        method: 'POST',
        headers: { 'Upload-Length': upload.data.length, ...(withBody ? { ...OCTET, 'Content-Length': CHUNK } : {}) },
        pieces: withBody ? [upload.data.subarray(0, CHUNK)] : [],
      })
      expect(res.status).toBe(201)
      upload.path = new URL(header(res, 'location')!).pathname
      if (withBody) expect(acknowledge(upload, res)).toBe(CHUNK)
    }
    kind = 'head'
    counter.started(kind)
    let offset = await verifyUpload(origin, dir.path, upload)
    while (offset < upload.data.length) {
      kind = kinds(upload.data.length - offset)
      offset = await patchOnce(origin, upload, offset, kind)
    }
    upload.complete = true
  } catch (err) {
    counter.failed(kind, err)
  }
}

it(`staged and plain writes survive ${KILLS} SIGKILLs; no acknowledged byte is lost`, { timeout: 90_000 }, async () => {
  expect(existsSync(DIST), 'the package must be built (npm run build)').toBe(true)
  const uploads: Tracked[] = []
  const add = (n: number) => {
    for (let i = 0; i < n; i++) uploads.push({ data: randomData(600_000 + Math.floor(Math.random() * 1_400_000)), acked: 0, complete: false })
  }
  add(10)
  let kills = 0
  while (kills < KILLS) {
    const server = await start()
    // After every restart, every upload the client knows about answers HEAD consistently.
    for (const upload of uploads) if (upload.path) await verifyUpload(server.origin, dir.path, upload)
    if (uploads.filter((u) => !u.complete).length < 6) add(4)
    const work = Promise.all(uploads.filter((u) => !u.complete).map((u) => drive(server.origin, u)))
    await Promise.race([work, sleep(5 + Math.random() * 120)])
    await server.kill()
    kills++
    await work
  }

  // A last run without a kill finishes everything (with no body refused: nothing should fail now).
  const server = await start()
  for (const upload of uploads) if (upload.path) await verifyUpload(server.origin, dir.path, upload)
  const cutBefore = counter.total()
  await Promise.all(uploads.filter((u) => !u.complete).map((u) => drive(server.origin, u, () => 'sha1')))
  expect(counter.total()).toBe(cutBefore)
  for (const upload of uploads) {
    expect(upload.complete).toBe(true)
    const res = await send(`${server.origin}${upload.path}`, { method: 'GET' })
    expect(res.status).toBe(200)
    expect(sha256(res.body)).toBe(sha256(upload.data))
  }
  await server.kill()

  console.log(`staged-writes crash test: ${kills} kills, ${counter.total()} requests cut (cut/sent: ${counter.summary()}), ${uploads.length} uploads`)
  // Kills land mid-request, in every kind of write.
  for (const kind of MUST_CUT) expect(counter.cut[kind] ?? 0, `${kind} PATCHes cut by a kill`).toBeGreaterThanOrEqual(1)
})
