// The workloads. Each takes the server origin and its parameters and resolves with { seconds, bytes?, ops? }.
// Only the measured phase is timed; setup (creating uploads for HEAD, hashing for checksums) is not. The
// request-bound workloads (small, head) are first run untimed with `warmup` as their count (see run.mjs), so
// that the figures are those of a server whose code the JIT has compiled: a fresh process runs its first
// thousands of requests in slower, unoptimized code, and a server that loads more code takes longer to get
// there.
import { createHash } from 'node:crypto'
import { crc32 } from 'node:zlib'
import { expect, send, SOURCE, pool } from './http.mjs'

const now = () => performance.now() / 1000

async function create(origin, length, metadata) {
  const headers = { 'Upload-Length': length }
  if (metadata) headers['Upload-Metadata'] = metadata
  const res = expect(await send(`${origin}/files`, 'POST', headers), 201, 'POST')
  return new URL(res.headers.location, origin).href
}

function checkOffset(res, want, what) {
  expect(res, 204, what)
  if (Number(res.headers['upload-offset']) !== want) throw new Error(`${what}: offset ${res.headers['upload-offset']} != ${want}`)
}

/** One PATCH carrying the whole upload. `checksum` is a precomputed Upload-Checksum value. */
export async function big(origin, { size, checksum }) {
  const url = await create(origin, size)
  const headers = { 'Upload-Offset': 0 }
  if (checksum) headers['Upload-Checksum'] = checksum
  const t = now()
  const res = await send(url, 'PATCH', headers, size)
  const seconds = now() - t
  checkOffset(res, size, 'PATCH')
  return { seconds, bytes: size }
}

/** One upload sent as sequential PATCHes of `chunk` bytes. */
export async function chunks(origin, { size, chunk }) {
  const url = await create(origin, size)
  const t = now()
  for (let offset = 0; offset < size; offset += chunk) {
    const n = Math.min(chunk, size - offset)
    checkOffset(await send(url, 'PATCH', { 'Upload-Offset': offset }, n), offset + n, 'PATCH')
  }
  return { seconds: now() - t, bytes: size }
}

const METADATA = `filename ${Buffer.from('photo.jpg').toString('base64')},filetype ${Buffer.from('image/jpeg').toString('base64')}`

/** Many small uploads: POST then PATCH each, `concurrency` at a time. */
export async function small(origin, { count, size, concurrency }) {
  const t = now()
  await pool(count, concurrency, async () => {
    const url = await create(origin, size, METADATA)
    checkOffset(await send(url, 'PATCH', { 'Upload-Offset': 0 }, size), size, 'PATCH')
  })
  return { seconds: now() - t, ops: count }
}

/** HEADs spread over `uploads` half-received uploads, `concurrency` at a time. */
export async function head(origin, { count, uploads, concurrency }) {
  const urls = []
  for (let i = 0; i < uploads; i++) {
    const url = await create(origin, 4096, METADATA)
    checkOffset(await send(url, 'PATCH', { 'Upload-Offset': 0 }, 1024), 1024, 'PATCH')
    urls.push(url)
  }
  const t = now()
  await pool(count, concurrency, async (i) => {
    const res = expect(await send(urls[i % uploads], 'HEAD'), 200, 'HEAD')
    if (res.headers['upload-offset'] !== '1024') throw new Error(`HEAD: offset ${res.headers['upload-offset']}`)
  })
  return { seconds: now() - t, ops: count }
}

/** The Upload-Checksum value for `size` bytes of SOURCE repeated (spec: checksum: name, space, base64). */
export function checksumOf(algorithm, size) {
  if (algorithm === 'crc32') {
    let crc = 0
    for (let left = size; left > 0; left -= SOURCE.length) crc = crc32(SOURCE.subarray(0, Math.min(left, SOURCE.length)), crc)
    const out = Buffer.alloc(4)
    out.writeUInt32BE(crc >>> 0)
    return `crc32 ${out.toString('base64')}`
  }
  const hash = createHash(algorithm)
  for (let left = size; left > 0; left -= SOURCE.length) hash.update(SOURCE.subarray(0, Math.min(left, SOURCE.length)))
  return `${algorithm} ${hash.digest('base64')}`
}

/** Why the server cannot take this checksum, or undefined when it advertises it (spec: checksum). */
export async function checksumSupport(origin, algorithm) {
  const res = await send(`${origin}/files`, 'OPTIONS')
  const extensions = String(res.headers['tus-extension'] ?? '').split(',').map((s) => s.trim())
  if (!extensions.includes('checksum')) return 'server does not advertise the checksum extension'
  const algorithms = String(res.headers['tus-checksum-algorithm'] ?? '').split(',').map((s) => s.trim())
  if (!algorithms.includes(algorithm)) return `server does not list ${algorithm} in Tus-Checksum-Algorithm`
  return undefined
}
