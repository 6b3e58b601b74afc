/**
 * Hostile input, by property: thousands of raw requests with random and adversarial methods, ids, tus headers
 * and bodies against one server. Never a 5xx, never a hang or a crash, never a file outside the store
 * directory, never a changed upload when the request was refused.
 */
import fc from 'fast-check'
import { createHash } from 'node:crypto'
import type { IncomingMessage, ServerResponse } from 'node:http'
import { connect } from 'node:net'
import { readdir, readFile } from 'node:fs/promises'
import { join } from 'node:path'
import { afterAll, beforeAll, expect, it } from 'vitest'
import { FileStore, tus } from 'tus-middleware'
import { createUpload, patch } from '../helpers/raw.js'
import { listen, tempDir, type TestServer } from '../helpers/server.js'

/** An integer (at least `min`) from the environment, or `fallback` when the variable is unset or empty. */
function envInt(name: string, fallback: number, min = -(2 ** 31)): number {
  const raw = process.env[name]
  if (raw === undefined || raw === '') return fallback
  if (!/^-?\d+$/.test(raw) || Number(raw) < min) throw new TypeError(`${name} must be an integer >= ${min}, got ${JSON.stringify(raw)}`)
  return Number(raw)
}

/** Requests per run: FUZZ_RUNS, else more on CI than locally. */
const RUNS = envInt('FUZZ_RUNS', process.env.CI ? 2000 : 300, 1)
/** FUZZ_SEED (and FUZZ_PATH, both printed by fast-check on failure) replay a run; otherwise a fresh seed. */
const SEED = envInt('FUZZ_SEED', (Date.now() ^ (Math.random() * 0x100000000)) | 0)
const PATH = process.env.FUZZ_PATH || undefined
let parent: Awaited<ReturnType<typeof tempDir>>
let storeDir: string
let server: TestServer
const ids: string[] = []

beforeAll(async () => {
  parent = await tempDir('tus-fuzz-')
  storeDir = join(parent.path, 'store')
  // Plain node:http: a request the middleware does not serve gets its 404 at once, whatever its body.
  const uploads = tus({ store: counting(new FileStore({ directory: storeDir })), path: '/files', maxSize: 100_000, bodyIdleTimeout: 100 })
  server = await listen((req: IncomingMessage, res: ServerResponse) => {
    active++
    res.once('close', () => active--)
    uploads(req, res)
  }, uploads)
  for (const length of [5000, undefined, 3]) ids.push((await createUpload(server.url, length)).split('/').pop()!)
  await patch(`${server.url}/${ids[2]}`, 0, Buffer.from('abc')) // a complete one
})
afterAll(async () => {
  await server.close()
  await parent.remove()
})

/** Keeps the known uploads worth hitting: one deleted is replaced by a fresh one. */
async function replaceFinishedUploads(): Promise<void> {
  const lengths = [5000, undefined, 3]
  for (let i = 0; i < ids.length; i++) {
    const res = await fetch(`${server.url}/${ids[i]}`, { method: 'HEAD', headers: { 'Tus-Resumable': '1.0.0' } })
    if (res.status === 404) ids[i] = (await createUpload(server.url, lengths[i])).split('/').pop()!
  }
}

/** Requests not yet closed, and store calls not yet settled: work the server may still do. */
let active = 0
let storeCalls = 0

function counting(store: FileStore): FileStore {
  return new Proxy(store, {
    get(target, key, receiver) {
      const value = Reflect.get(target, key, receiver)
      if (typeof value !== 'function' || key === 'constructor') return value
      return (...args: unknown[]) => {
        storeCalls++
        return (value as Function).apply(target, args).finally(() => storeCalls--)
      }
    },
  })
}

/**
 * Waits until the server is done with the last exchange. When Node's parser rejects bytes after a body it closes
 * the connection while the request before them may still be working (creating an upload, say).
 */
async function settled(): Promise<void> {
  for (let quiet = 0; quiet < 2; ) {
    await new Promise((r) => setTimeout(r, 1))
    quiet = active === 0 && storeCalls === 0 ? quiet + 1 : 0
  }
}

/** What "unchanged" means: the same files in the store, and the same bytes in the known uploads' files. */
async function storeState(): Promise<string> {
  const names = (await readdir(storeDir)).filter((n) => !n.startsWith('.')).sort()
  const known = ids.flatMap((id) => [`${id}.bin`, `${id}.json`])
  const parts = await Promise.all(
    known.map(async (n) => `${n}:${createHash('sha1').update(await readFile(join(storeDir, n)).catch(() => Buffer.alloc(0))).digest('hex')}`),
  )
  return [...names, ...parts].join('\n')
}

/** Sends raw bytes and collects every status line the server answers with, until it closes the connection. */
interface Exchange {
  statuses: number[]
  /** Whether every answer came from the middleware (Tus-Resumable), not from Node's HTTP parser. */
  allTus: boolean
  hung: boolean
}

function exchange(bytes: Buffer): Promise<Exchange> {
  return new Promise((resolve) => {
    const socket = connect(Number(new URL(server.origin).port), '127.0.0.1')
    let text = ''
    let timer = setTimeout(() => finish(true), 4000)
    const finish = (hung: boolean) => {
      clearTimeout(timer)
      socket.destroy()
      const heads = [...text.matchAll(/HTTP\/1\.1 (\d{3})[^]*?\r\n\r\n/g)]
      const statuses = heads.map((m) => Number(m[1]))
      resolve({ statuses, allTus: heads.every((m) => /\r\nTus-Resumable: 1\.0\.0\r\n/i.test(m[0])), hung })
    }
    socket.on('data', (d) => {
      text += d.toString('latin1')
      // Answered: a server (or the app's 404 behind the middleware) may keep waiting for body bytes the
      // client owes; that is not a hang.
      if (text.includes('\r\n\r\n')) {
        clearTimeout(timer)
        timer = setTimeout(() => finish(false), 300)
      }
    })
    socket.on('error', () => {})
    socket.on('close', () => finish(false))
    socket.write(bytes)
  })
}

const NUMBERS = ['99999999999999999999', '-1', '1e3', '0x10', ' 1', '1 ', '', '1.5', 'NaN', '+5', '007',
  '9007199254740993', '１', '0,0']
/** Mostly plausible values (so requests get deep into the handlers), sometimes absurd ones. */
const numberish = fc.oneof(
  { weight: 3, arbitrary: fc.constantFrom('0', '1', '3', '3000', '5000') },
  { weight: 2, arbitrary: fc.nat({ max: 200_000 }).map(String) },
  { weight: 2, arbitrary: fc.constantFrom(...NUMBERS) },
)
const junk = fc.string({ maxLength: 40 }).map((s) => s.replace(/[\r\n]/g, ''))
const hugeMetadata = fc.nat({ max: 12_000 }).map((n) => `name ${Buffer.alloc(n, 'a').toString('base64')}`)
/** A header that is usually there. */
const often = <T>(arb: fc.Arbitrary<T>) => fc.oneof({ weight: 1, arbitrary: fc.constant(undefined) }, { weight: 4, arbitrary: arb })
/** A header that is usually not there. */
const rarely = <T>(arb: fc.Arbitrary<T>) => fc.oneof({ weight: 5, arbitrary: fc.constant(undefined) }, { weight: 1, arbitrary: arb })

const idArb = fc.oneof(
  { weight: 3, arbitrary: fc.constantFrom(0, 1, 2).map((i) => encodeURIComponent(ids[i])) },
  {
    weight: 2,
    arbitrary: fc.constantFrom('..%2F..%2Fetc%2Fpasswd', '..%2f..%2fstore', '%00', 'a%00b', '..\\..\\x', '%2e%2e', '..', '.',
      '%2F', '%E0%A4%A', 'x'.repeat(5000), '%', 'CON', 'a%0d%0aSet-Cookie:x', '~', '..%5C..%5Cwin.ini', '%2e%2e%2fstore.json'),
  },
  { weight: 1, arbitrary: junk.map(encodeURIComponent) },
)

const headerArb = fc.record({
  'Tus-Resumable': fc.oneof({ weight: 8, arbitrary: fc.constant('1.0.0') }, fc.constantFrom('0.2.2', '1.0', '', '1.0.0, 1.0.0'), junk),
  'Upload-Offset': often(numberish),
  'Upload-Length': often(numberish),
  'Upload-Defer-Length': rarely(fc.oneof(fc.constantFrom('1', '0', '2', ' 1'), numberish)),
  'Upload-Metadata': rarely(fc.oneof(junk, hugeMetadata, fc.constantFrom('filename aGVsbG8=', 'a,a', 'k !!!', ' , ', 'n aGk=,n aGk='))),
  'Content-Type': often(fc.constantFrom('application/offset+octet-stream', 'APPLICATION/OFFSET+OCTET-STREAM; x=1', 'text/plain', '')),
  'Upload-Concat': rarely(fc.oneof(fc.constantFrom('partial', 'final;/files/a /files/b', 'final;'), junk)),
  'Upload-Checksum': rarely(fc.oneof(fc.constantFrom('sha1 Kq5sNclPz7QV2+lfQIuc6R7oRu0=', 'md5 x', 'sha1'), junk)),
  'X-HTTP-Method-Override': rarely(fc.constantFrom('PATCH', 'DELETE', 'GET', 'head', 'PUT', 'CONNECT', '')),
  Origin: rarely(fc.constantFrom('https://evil.example', 'null')),
  Forwarded: rarely(fc.constantFrom('host=evil.example;proto=https', 'for=;;;')),
})

const requestArb = fc.record({
  method: fc.oneof(
    { weight: 6, arbitrary: fc.constantFrom('POST', 'PATCH', 'HEAD', 'GET', 'DELETE', 'OPTIONS') },
    { weight: 1, arbitrary: fc.constantFrom('PUT', 'TRACE', 'patch', 'FOO') },
  ),
  target: fc.oneof(
    { weight: 2, arbitrary: fc.constantFrom('/files', '/files/') },
    { weight: 4, arbitrary: idArb.map((id) => `/files/${id}`) },
    { weight: 1, arbitrary: idArb.map((id) => `/files/${id}/x`) },
  ),
  headers: headerArb,
  /** Headers sent twice, with a second value. */
  duplicates: rarely(fc.subarray(['Upload-Offset', 'Upload-Length', 'Tus-Resumable', 'Content-Length', 'Upload-Metadata'])).map((d) => d ?? []),
  /** One header far past Node's limit (16 KiB of headers). */
  oversized: fc.oneof({ weight: 15, arbitrary: fc.constant(undefined) }, fc.constantFrom('Upload-Metadata', 'Upload-Offset', 'X-Filler')),
  bodySize: fc.oneof(fc.constant(0), fc.nat({ max: 6000 })),
  /** How Content-Length relates to the body: exact, too small (extra bytes follow), too large (rare: it stalls). */
  framing: fc.oneof(
    { weight: 12, arbitrary: fc.constant('exact' as const) },
    { weight: 4, arbitrary: fc.constant('longer-body' as const) },
    { weight: 2, arbitrary: fc.constant('chunked' as const) },
    { weight: 2, arbitrary: fc.constant('none' as const) },
    { weight: 1, arbitrary: fc.constant('shorter-body' as const) },
  ),
})

type HostileRequest = typeof requestArb extends fc.Arbitrary<infer T> ? T : never

function encode(r: HostileRequest): Buffer {
  const body = Buffer.alloc(r.bodySize, 0x61)
  const lines = [`${r.method} ${r.target} HTTP/1.1`, 'Host: localhost', 'Connection: close']
  for (const [k, v] of Object.entries(r.headers)) if (v !== undefined) lines.push(`${k}: ${v}`)
  for (const k of r.duplicates) lines.push(`${k}: 1`)
  if (r.oversized) lines.push(`${r.oversized}: ${'9'.repeat(70_000)}`)
  let payload = body
  if (r.framing === 'exact') lines.push(`Content-Length: ${body.length}`)
  if (r.framing === 'longer-body') lines.push(`Content-Length: ${Math.floor(body.length / 2)}`)
  if (r.framing === 'shorter-body') lines.push(`Content-Length: ${body.length + 10}`)
  if (r.framing === 'chunked') {
    lines.push('Transfer-Encoding: chunked')
    payload = Buffer.concat([Buffer.from(`${body.length.toString(16)}\r\n`), body, Buffer.from('\r\n0\r\n\r\n')])
    if (body.length === 0) payload = Buffer.from('0\r\n\r\n')
  }
  return Buffer.concat([Buffer.from(`${lines.join('\r\n')}\r\n\r\n`, 'latin1'), payload])
}

it(`survives ${RUNS} hostile requests`, { timeout: 240_000 }, async () => {
  const hist: Record<number, number> = {}
  let refusals = 0
  let successes = 0
  await fc.assert(
    fc.asyncProperty(requestArb, async (r) => {
      const before = await storeState()
      const { statuses, allTus, hung } = await exchange(encode(r))
      await settled()
      for (const st of statuses) hist[st] = (hist[st] ?? 0) + 1
      expect(hung && statuses.length === 0, 'the server answered or closed the connection').toBe(false)
      for (const status of statuses) expect(status).toBeLessThan(500)
      // Nothing ever lands outside the store directory.
      expect(await readdir(parent.path)).toEqual(['store'])
      for (const name of await readdir(storeDir)) expect(name).toMatch(/^(\.[\w.~-]+\.tmp|[A-Za-z0-9_-][\w.~-]*\.(bin|json))$/)
      // A request the middleware refused changes nothing. (408 is not a refusal: a stalled body keeps what
      // arrived. When Node's parser answers bytes after a body, the request before them may have succeeded.)
      const refused = statuses.length > 0 && allTus && statuses.every((s) => s >= 400 && s !== 408)
      if (refused) {
        refusals++
        expect(await storeState()).toBe(before)
      } else if (statuses.some((s) => s < 300)) successes++
      await replaceFinishedUploads()
    }),
    { numRuns: RUNS, seed: SEED, path: PATH },
  )
  console.log(`fuzz: seed ${SEED}, ${RUNS} requests, ${refusals} refused, ${successes} succeeded, statuses`, hist)
  // The generator reaches both sides of the server: enough valid requests succeed, enough are refused.
  expect(refusals, `refusals (FUZZ_SEED=${SEED})`).toBeGreaterThan(RUNS / 8)
  expect(successes, `successes (FUZZ_SEED=${SEED})`).toBeGreaterThan(RUNS / 50)
  // And it still serves a whole upload afterwards.
  const url = await createUpload(server.url, 5)
  expect((await patch(url, 0, Buffer.from('hello'))).status).toBe(204)
  expect(await (await fetch(url)).text()).toBe('hello')
})
