/**
 * Two server processes on one FileStore directory (cacheSize 0, FileLocker), behind a round-robin proxy: every
 * request goes to the next process, so consecutive requests of one upload alternate between them. Many uploads
 * of every kind run at once — in pieces, checksummed (header and trailer, some wrong first), deferred length,
 * concatenation (finished and unfinished), deleted midway, left idle to expire, and two clients racing on one
 * upload. In the end: every completed upload is byte-identical from both processes, `completed` fired exactly
 * once per upload across the two, nothing answered 5xx, deleted and expired uploads are gone everywhere, and
 * the directory holds nothing but the live uploads and the lock directory.
 */
import { spawn, type ChildProcess } from 'node:child_process'
import { createHash } from 'node:crypto'
import { existsSync } from 'node:fs'
import { readdir } from 'node:fs/promises'
import { createServer, request, type IncomingHttpHeaders, type Server } from 'node:http'
import type { AddressInfo } from 'node:net'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { afterAll, expect, it } from 'vitest'
import { randomData, sha256 } from '../helpers/bytes.js'
import { sleep } from '../helpers/raw.js'
import { tempDir } from '../helpers/server.js'
import { OCTET, pathOf, TUS } from '../helpers/tus.js'

const DIST = fileURLToPath(new URL('../../dist/esm/index.js', import.meta.url))
const FIXTURE = fileURLToPath(new URL('../fixtures/shared-dir-server.mjs', import.meta.url))
const EXPIRE_AFTER = 1500
const CLEANUP_INTERVAL = 300

// ---------------------------------------------------------------------------------------------- processes

interface Report {
  event: 'completed' | 'expired' | '5xx'
  id?: string
  status?: number
  method?: string
  url?: string
}

interface Child {
  origin: string
  port: number
  process: ChildProcess
  reports: Report[]
  kill(): Promise<void>
}

function startChild(directory: string): Promise<Child> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [FIXTURE, directory], {
      stdio: ['ignore', 'pipe', 'inherit'],
      env: { ...process.env, TUS_OPTIONS: JSON.stringify({ expireAfter: EXPIRE_AFTER, cleanupInterval: CLEANUP_INTERVAL }) },
    })
    const reports: Report[] = []
    let pending = ''
    let started = false
    child.once('error', reject)
    child.once('exit', (code) => {
      if (!started) reject(new Error(`server exited early with ${code}`))
    })
    child.stdout!.setEncoding('utf8')
    child.stdout!.on('data', (text: string) => {
      pending += text
      let nl
      while ((nl = pending.indexOf('\n')) !== -1) {
        const line = pending.slice(0, nl)
        pending = pending.slice(nl + 1)
        const listening = /^listening (\d+)$/.exec(line)
        if (listening && !started) {
          started = true
          const port = Number(listening[1])
          resolve({
            origin: `http://127.0.0.1:${port}`,
            port,
            process: child,
            reports,
            kill: () =>
              new Promise<void>((done) => {
                if (child.exitCode !== null || child.signalCode !== null) return done()
                child.once('exit', () => done())
                child.kill('SIGKILL')
              }),
          })
        } else if (line.startsWith('{')) {
          reports.push(JSON.parse(line) as Report)
        }
      }
    })
  })
}

// -------------------------------------------------------------------------------------------------- proxy

const HOP_BY_HOP = ['connection', 'keep-alive', 'proxy-connection', 'upgrade']

function withoutHopByHop(headers: IncomingHttpHeaders, extra: string[] = []): IncomingHttpHeaders {
  const out = { ...headers }
  for (const name of [...HOP_BY_HOP, ...extra]) delete out[name]
  return out
}

interface Proxy {
  origin: string
  /** Requests forwarded to each child. */
  forwarded: number[]
  /** Requests the proxy itself could not forward (answered 502). */
  failures: string[]
  close(): Promise<void>
}

/**
 * Round robin: each request goes to the next child. Headers go through as they are (Host included, so the
 * Location the children build names the proxy), bodies are piped both ways, and the trailers of a chunked
 * request are passed on (Upload-Checksum may come as one).
 */
async function startProxy(children: Child[]): Promise<Proxy> {
  let next = 0
  const forwarded = children.map(() => 0)
  const failures: string[] = []
  const server: Server = createServer((req, res) => {
    const target = next++ % children.length
    forwarded[target]++
    const out = request({
      host: '127.0.0.1',
      port: children[target].port,
      method: req.method,
      path: req.url,
      // Transfer-Encoding stays: the request is forwarded chunked, so its trailers can follow.
      headers: withoutHopByHop(req.headers),
      agent: false,
    })
    out.on('response', (up) => {
      res.writeHead(up.statusCode!, withoutHopByHop(up.headers, ['transfer-encoding']))
      up.pipe(res)
    })
    out.on('error', (err) => {
      // After the answer (a child that answered before reading the whole body, then closed): nothing lost.
      req.unpipe(out)
      req.resume()
      if (res.headersSent) return
      failures.push(`${req.method} ${req.url} -> child ${target}: ${err.message}`)
      res.writeHead(502, { 'Content-Type': 'text/plain' })
      res.end(`proxy: ${err.message}\n`)
    })
    res.on('close', () => {
      if (!out.destroyed) out.destroy()
    })
    req.pipe(out, { end: false })
    req.on('end', () => {
      if (Object.keys(req.trailers).length > 0) out.addTrailers(req.trailers)
      out.end()
    })
  })
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r))
  return {
    origin: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    forwarded,
    failures,
    close: () =>
      new Promise<void>((r) => {
        server.closeAllConnections()
        server.close(() => r())
      }),
  }
}

// ------------------------------------------------------------------------------------------------- client

interface Res {
  status: number
  headers: IncomingHttpHeaders
  body: Buffer
  header(name: string): string | undefined
}

interface CallOptions {
  headers?: Record<string, string | number>
  body?: Buffer
  /** Sent chunked, in these pieces, then these trailers. */
  chunks?: Buffer[]
  trailers?: Record<string, string>
  /** Sent with a Content-Length, in these pieces, `gapMs` apart (a slow client); stops once answered. */
  paced?: { pieces: Buffer[]; gapMs: number }
}

/** Every 5xx the client saw, and the requests that failed outright. */
const clientErrors: string[] = []

function call(origin: string, method: string, path: string, options: CallOptions = {}): Promise<Res> {
  return new Promise<Res>((resolve, reject) => {
    const headers: Record<string, string | number> = { ...TUS, ...options.headers }
    if (options.body) headers['Content-Length'] = options.body.length
    if (options.paced) headers['Content-Length'] = options.paced.pieces.reduce((n, p) => n + p.length, 0)
    if (options.chunks && options.trailers) headers.Trailer = Object.keys(options.trailers).join(', ')
    let answered = false
    const req = request(`${origin}${path}`, { method, headers, agent: false }, (res) => {
      answered = true
      const parts: Buffer[] = []
      res.on('data', (c: Buffer) => parts.push(c))
      res.on('end', () => {
        const status = res.statusCode!
        if (status >= 500) clientErrors.push(`${method} ${path} on ${origin}: ${status} ${Buffer.concat(parts)}`)
        // A paced body the server answered before its end: the rest is not sent.
        if (!req.writableFinished) req.destroy()
        resolve({
          status,
          headers: res.headers,
          body: Buffer.concat(parts),
          header: (name) => {
            const v = res.headers[name.toLowerCase()]
            return Array.isArray(v) ? v.join(', ') : v
          },
        })
      })
      res.on('error', reject)
    })
    req.on('error', (err) => {
      // The server may answer before it has read the whole body and then close: the answer stands.
      if (answered) return
      clientErrors.push(`${method} ${path} on ${origin}: ${err.message}`)
      reject(err)
    })
    if (options.paced) {
      const { pieces, gapMs } = options.paced
      void (async () => {
        for (const piece of pieces) {
          if (answered || req.destroyed) return
          req.write(piece)
          await sleep(gapMs)
        }
        if (!answered && !req.destroyed) req.end()
      })()
    } else if (options.chunks) {
      for (const chunk of options.chunks) req.write(chunk)
      if (options.trailers) req.addTrailers(options.trailers)
      req.end()
    } else {
      req.end(options.body)
    }
  })
}

const sha1 = (data: Buffer): string => createHash('sha1').update(data).digest('base64')
const rand = (min: number, max: number): number => min + Math.floor(Math.random() * (max - min + 1))

/** Splits `data` into pieces of random sizes. */
function pieces(data: Buffer, min = 30_000, max = 250_000): Buffer[] {
  const out: Buffer[] = []
  for (let at = 0; at < data.length; ) {
    const size = Math.min(rand(min, max), data.length - at)
    out.push(data.subarray(at, at + size))
    at += size
  }
  return out
}

/** Waits until `check` holds (polled, no busy loop); fails after `ms` with `what`. */
async function until(check: () => boolean | Promise<boolean>, ms: number, what: string): Promise<void> {
  const deadline = Date.now() + ms
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`)
    await sleep(25)
  }
}

// ------------------------------------------------------------------------------------------------- uploads

type Kind = 'plain' | 'slow' | 'checksum' | 'trailer' | 'deferred' | 'partial' | 'final' | 'final-unfinished' | 'deleted' | 'idle' | 'race'

interface Upload {
  kind: Kind
  /** The bytes it must end up holding (a final: its parts', in order). */
  data: Buffer
  path?: string
  /** Expected to complete: then every process serves its bytes, and `completed` fires once (partials: never). */
  completes: boolean
  /** Expected to be gone in the end (deleted, or expired). */
  gone?: 'deleted' | 'expired'
}

let dir: Awaited<ReturnType<typeof tempDir>> | undefined
const children: Child[] = []
let proxy: Proxy | undefined
afterAll(async () => {
  await proxy?.close()
  await Promise.all(children.map((c) => c.kill()))
  await dir?.remove()
})

it('two processes on one directory behind a round-robin proxy serve interleaved uploads of every kind', { timeout: 60_000 }, async () => {
  expect(existsSync(DIST), 'the package must be built (npm test runs the build first)').toBe(true)
  const started = Date.now()
  dir = await tempDir('tus-two-processes-')
  children.push(...(await Promise.all([startChild(dir.path), startChild(dir.path)])))
  proxy = await startProxy(children)
  const P = proxy.origin
  const uploads: Upload[] = []
  const add = (kind: Kind, data: Buffer, completes: boolean, gone?: Upload['gone']): Upload => {
    const upload: Upload = { kind, data, completes, gone }
    uploads.push(upload)
    return upload
  }

  const create = async (upload: Upload, headers: Record<string, string | number>): Promise<string> => {
    const res = await call(P, 'POST', '/files', { headers })
    expect(res.status, `POST ${upload.kind}: ${res.body}`).toBe(201)
    upload.path = pathOf(res.header('location')!)
    return upload.path
  }

  /** One PATCH that must take all its bytes. */
  const patchOk = async (path: string, offset: number, body: Buffer, headers: Record<string, string | number> = {}): Promise<number> => {
    const res = await call(P, 'PATCH', path, { headers: { ...OCTET, 'Upload-Offset': offset, ...headers }, body })
    expect(res.status, `PATCH ${path} at ${offset}: ${res.body}`).toBe(204)
    expect(Number(res.header('upload-offset'))).toBe(offset + body.length)
    return offset + body.length
  }

  /** Plain pieces from `from` on, optionally pausing between them. */
  const patchPieces = async (path: string, data: Buffer, from = 0, pause = 0): Promise<void> => {
    let offset = from
    for (const piece of pieces(data.subarray(from))) {
      offset = await patchOk(path, offset, piece)
      if (pause) await sleep(pause)
    }
  }

  // --- idle: a few bytes, then nothing. They expire; started first so the rest runs while they age.
  const idle = async (kind: 'plain' | 'deferred' | 'partial'): Promise<void> => {
    const upload = add('idle', randomData(rand(50_000, 200_000)), false, 'expired')
    const headers: Record<string, string | number> =
      kind === 'deferred'
        ? { 'Upload-Defer-Length': 1 }
        : { 'Upload-Length': upload.data.length, ...(kind === 'partial' ? { 'Upload-Concat': 'partial' } : {}) }
    const path = await create(upload, headers)
    await patchOk(path, 0, upload.data.subarray(0, 20_000))
  }

  const plain = async (kind: 'plain' | 'slow' = 'plain'): Promise<void> => {
    const upload = add(kind, randomData(kind === 'slow' ? 400_000 : rand(150_000, 900_000)), true)
    const path = await create(upload, { 'Upload-Length': upload.data.length })
    // slow: active for about twice expireAfter, never idle for long: it must not expire.
    if (kind === 'slow') {
      let offset = 0
      for (let i = 0; i < 8; i++) {
        offset = await patchOk(path, offset, upload.data.subarray(i * 50_000, (i + 1) * 50_000))
        await sleep(EXPIRE_AFTER / 4)
      }
    } else {
      await patchPieces(path, upload.data)
    }
  }

  /** Upload-Checksum headers; one piece is first sent with a wrong one (460, nothing counts), then again. */
  const checksum = async (): Promise<void> => {
    const upload = add('checksum', randomData(rand(150_000, 700_000)), true)
    const path = await create(upload, { 'Upload-Length': upload.data.length })
    const list = pieces(upload.data)
    const wrong = rand(0, list.length - 1)
    let offset = 0
    for (const [i, piece] of list.entries()) {
      if (i === wrong) {
        const bad = await call(P, 'PATCH', path, {
          headers: { ...OCTET, 'Upload-Offset': offset, 'Upload-Checksum': `sha1 ${sha1(Buffer.from('not this'))}` },
          body: piece,
        })
        expect(bad.status, `wrong checksum: ${bad.body}`).toBe(460)
        const head = await call(P, 'HEAD', path)
        expect(head.header('upload-offset')).toBe(String(offset))
      }
      offset = await patchOk(path, offset, piece, { 'Upload-Checksum': `sha1 ${sha1(piece)}` })
    }
  }

  /** Chunked PATCHes with an Upload-Checksum trailer (through the proxy); one wrong first. */
  const trailer = async (): Promise<void> => {
    const upload = add('trailer', randomData(rand(150_000, 700_000)), true)
    const path = await create(upload, { 'Upload-Length': upload.data.length })
    const list = pieces(upload.data)
    const wrong = rand(0, list.length - 1)
    let offset = 0
    const send = (piece: Buffer, sum: string) =>
      call(P, 'PATCH', path, {
        headers: { ...OCTET, 'Upload-Offset': offset },
        chunks: [piece.subarray(0, piece.length >> 1), piece.subarray(piece.length >> 1)],
        trailers: { 'Upload-Checksum': `sha1 ${sum}` },
      })
    for (const [i, piece] of list.entries()) {
      if (i === wrong) {
        const bad = await send(piece, sha1(Buffer.from('not this')))
        expect(bad.status, `wrong trailer: ${bad.body}`).toBe(460)
      }
      const res = await send(piece, sha1(piece))
      expect(res.status, `trailer PATCH: ${res.body}`).toBe(204)
      offset += piece.length
      expect(res.header('upload-offset')).toBe(String(offset))
    }
  }

  /** Upload-Defer-Length: the length comes with a later PATCH; some bodies are chunked (no length: staged). */
  const deferred = async (declareAt: 'middle' | 'last'): Promise<void> => {
    const upload = add('deferred', randomData(rand(200_000, 700_000)), true)
    const path = await create(upload, { 'Upload-Defer-Length': 1 })
    const list = pieces(upload.data, 30_000, 150_000)
    const declare = declareAt === 'last' ? list.length - 1 : list.length >> 1
    let offset = 0
    for (const [i, piece] of list.entries()) {
      const headers = { ...OCTET, 'Upload-Offset': offset, ...(i === declare ? { 'Upload-Length': upload.data.length } : {}) }
      const res = i % 2 === 1 ? await call(P, 'PATCH', path, { headers, chunks: [piece] }) : await call(P, 'PATCH', path, { headers, body: piece })
      expect(res.status, `deferred PATCH ${i}: ${res.body}`).toBe(204)
      offset += piece.length
      expect(res.header('upload-offset')).toBe(String(offset))
      if (i === declare) {
        const head = await call(P, 'HEAD', path)
        expect(head.header('upload-length')).toBe(String(upload.data.length))
      }
    }
  }

  /** A final's HEAD shows an offset once it is assembled (after the response that completed its last part). */
  const awaitAssembled = async (final: Upload): Promise<void> => {
    await until(
      async () => {
        const head = await call(P, 'HEAD', final.path!)
        expect(head.status).toBe(200)
        return head.header('upload-offset') === String(final.data.length)
      },
      10_000,
      `final ${final.path} assembled`,
    )
  }

  /** Two parts, then a final; `unfinished`: the final is created before the second part is done. */
  const concat = async (unfinished: boolean): Promise<void> => {
    const a = add('partial', randomData(rand(100_000, 400_000)), true)
    const b = add('partial', randomData(rand(100_000, 400_000)), true)
    const final = add(unfinished ? 'final-unfinished' : 'final', Buffer.concat([a.data, b.data]), true)
    const [pa, pb] = await Promise.all([
      create(a, { 'Upload-Length': a.data.length, 'Upload-Concat': 'partial' }),
      create(b, { 'Upload-Length': b.data.length, 'Upload-Concat': 'partial' }),
    ])
    const half = b.data.length >> 1
    await Promise.all([patchPieces(pa, a.data), unfinished ? patchOk(pb, 0, b.data.subarray(0, half)) : patchPieces(pb, b.data)])
    await create(final, { 'Upload-Concat': `final;${pa} ${pb}` })
    if (unfinished) {
      const head = await call(P, 'HEAD', final.path!)
      expect(head.status).toBe(200)
      expect(head.header('upload-offset')).toBeUndefined()
      await patchPieces(pb, b.data, half)
    }
    await awaitAssembled(final)
  }

  /** Some bytes, then DELETE: gone for both processes. */
  const deleted = async (): Promise<void> => {
    const upload = add('deleted', randomData(rand(100_000, 400_000)), false, 'deleted')
    const path = await create(upload, { 'Upload-Length': upload.data.length })
    await patchPieces(path, upload.data.subarray(0, 80_000))
    const res = await call(P, 'DELETE', path)
    expect(res.status, `DELETE: ${res.body}`).toBe(204)
    for (const origin of [P, ...children.map((c) => c.origin)]) expect((await call(origin, 'HEAD', path)).status).toBe(404)
  }

  /**
   * Two clients PATCH the same offset of one upload at once, with different bytes, each through the proxy (so on
   * different processes). `paced`: slow clients, so the one holding the lock is still receiving when the other
   * asks for it, and lets go. Whatever is stored is one body's prefix, never a mix; one answer is 204, the
   * other 204 (it went first and was cut before its first byte), 409, 423 or 503 LOCK_LOST. The stored
   * body's owner then finishes the upload.
   */
  const raceResults: string[] = []
  const racePaths = new Set<string>()
  const race = async (paced: boolean): Promise<void> => {
    const length = paced ? 400_000 : 64_000
    const upload = add('race', Buffer.alloc(0), true)
    const bodies = [randomData(length), randomData(length)]
    const path = await create(upload, { 'Upload-Length': length })
    const headers = { ...OCTET, 'Upload-Offset': 0 }
    const answers = await Promise.all(
      bodies.map((body) =>
        call(P, 'PATCH', path, paced ? { headers, paced: { pieces: pieces(body, 16_000, 16_000), gapMs: 15 } } : { headers, body }),
      ),
    )
    // A process that refuses a body it has not read closes the connection; a client still sending may then
    // get a reset instead of the answer (the proxy's 502): the answer is lost, never the upload's consistency.
    const lost = (a: Res): boolean => a.status === 502 && /^proxy: .*(EPIPE|ECONNRESET)/.test(String(a.body))
    for (const a of answers) {
      if (lost(a)) continue
      expect([204, 409, 423, 503], `race answer ${a.status}: ${a.body}`).toContain(a.status)
      if (a.status === 503) expect(String(a.body)).toMatch(/lost its hold/)
    }
    if (!answers.some(lost)) expect(answers.some((a) => a.status === 204)).toBe(true)
    racePaths.add(path)
    const head = await call(P, 'HEAD', path)
    expect(head.status).toBe(200)
    const offset = Number(head.header('upload-offset'))
    const stored = (await call(P, 'GET', path)).body
    expect(stored.length).toBe(offset)
    const winner = bodies.find((b) => b.subarray(0, offset).equals(stored))
    expect(winner, 'the stored bytes are a prefix of one of the racing bodies').toBeDefined()
    raceResults.push(`${answers.map((a) => (lost(a) ? 'reset' : a.status)).join('+')} ${offset}/${length}`)
    upload.data = winner!
    await patchPieces(path, winner!, offset)
  }

  const work: Promise<void>[] = []
  for (const kind of ['plain', 'deferred', 'partial'] as const) work.push(idle(kind))
  await Promise.all(work)
  work.push(plain('slow'))
  for (let i = 0; i < 4; i++) work.push(plain())
  for (let i = 0; i < 3; i++) work.push(checksum())
  for (let i = 0; i < 2; i++) work.push(trailer())
  work.push(deferred('middle'), deferred('last'), deferred('last'))
  work.push(concat(false), concat(false), concat(true), concat(true))
  work.push(deleted(), deleted())
  work.push(race(true), race(false))
  await Promise.all(work)

  // Idle uploads expire, for both processes, and their files go (one sweeper or a request removes them).
  const expired = uploads.filter((u) => u.gone === 'expired')
  await until(
    async () => {
      for (const u of expired) {
        for (const child of children) if (![404, 410].includes((await call(child.origin, 'HEAD', u.path!)).status)) return false
        const id = u.path!.split('/').pop()!
        if (existsSync(join(dir!.path, `${id}.json`)) || existsSync(join(dir!.path, `${id}.bin`))) return false
      }
      return true
    },
    10_000,
    'idle uploads expired and removed',
  )

  // Every upload that completes is whole, from the proxy and from each process directly.
  const completing = uploads.filter((u) => u.completes)
  for (const u of completing) {
    for (const origin of [P, ...children.map((c) => c.origin)]) {
      const head = await call(origin, 'HEAD', u.path!)
      expect(head.status, `HEAD ${u.kind} ${u.path}`).toBe(200)
      expect(head.header('upload-offset')).toBe(String(u.data.length))
      const got = await call(origin, 'GET', u.path!)
      expect(got.status).toBe(200)
      expect(sha256(got.body), `${u.kind} ${u.path} from ${origin}`).toBe(sha256(u.data))
    }
  }
  for (const u of uploads.filter((u) => u.gone)) {
    for (const child of children) expect([404, 410], `${u.gone} ${u.path}`).toContain((await call(child.origin, 'HEAD', u.path!)).status)
  }

  // `completed`: exactly once per completed upload that is not a part, counted over both processes.
  const idOfUpload = (u: Upload): string => u.path!.split('/').pop()!
  const events = (event: Report['event']): Report[] => children.flatMap((c) => c.reports.filter((r) => r.event === event))
  const expectCompleted = completing.filter((u) => u.kind !== 'partial').map(idOfUpload)
  await until(() => expectCompleted.every((id) => events('completed').some((r) => r.id === id)), 5000, 'completed events')
  const expectExpired = expired.map(idOfUpload)
  await until(() => expectExpired.every((id) => events('expired').some((r) => r.id === id)), 5000, 'expired events')
  // Late duplicates, if any, would come within the sweeps and after-response work of this moment.
  await sleep(3 * CLEANUP_INTERVAL)
  const count = (event: Report['event']) => {
    const seen = new Map<string, number>()
    for (const r of events(event)) seen.set(r.id!, (seen.get(r.id!) ?? 0) + 1)
    return Object.fromEntries([...seen].sort())
  }
  expect(count('completed')).toEqual(Object.fromEntries(expectCompleted.map((id) => [id, 1] as const).sort()))
  // Expired exactly once each, and nothing active ever expired.
  expect(count('expired')).toEqual(Object.fromEntries(expectExpired.map((id) => [id, 1] as const).sort()))

  // No 5xx anywhere: not reported by a child, not seen by the client, no request the proxy failed to forward.
  const inRace = (text: string): boolean => [...racePaths].some((p) => text.startsWith(`PATCH ${p} `))
  const serverErrors = events('5xx').filter((r) => !(r.status === 503 && r.method === 'PATCH' && racePaths.has(r.url!)))
  expect(serverErrors).toEqual([])
  expect(clientErrors.filter((e) => !(inRace(e) && / (503|502) /.test(e)))).toEqual([])
  expect(proxy.failures.filter((f) => !inRace(f))).toEqual([])

  // The directory: live uploads' files and the lock directory, nothing else; no upload lock left behind.
  const live = new Map(uploads.filter((u) => !u.gone).map((u) => [idOfUpload(u), u]))
  const locks = join(dir.path, '.locks')
  await until(
    // A release moves the lock file aside before removing it: a sweep releasing its turn may be mid-way.
    async () => (await readdir(locks)).every((name) => (!name.endsWith('.lock') || name === '.expiry.lock') && !name.endsWith('.tmp')),
    3000,
    'upload locks released',
  )
  const names = await readdir(dir.path)
  const stray = names.filter((name) => {
    if (name === '.locks') return false
    const match = /^(.+)\.(bin|json|links)$/.exec(name)
    if (!match || !live.has(match[1])) return true
    return match[2] === 'links' && live.get(match[1])!.kind !== 'partial'
  })
  expect(stray).toEqual([])
  for (const id of live.keys()) {
    expect(names).toContain(`${id}.bin`)
    expect(names).toContain(`${id}.json`)
  }
  for (const u of uploads.filter((u) => u.kind === 'partial')) expect(names).toContain(`${idOfUpload(u)}.links`)
  expect((await readdir(locks)).filter((name) => !/\.(lock|release)$/.test(name))).toEqual([])

  const kinds = new Map<Kind, number>()
  for (const u of uploads) kinds.set(u.kind, (kinds.get(u.kind) ?? 0) + 1)
  console.log(
    `two processes: ${uploads.length} uploads (${[...kinds].map(([k, n]) => `${k} ${n}`).join(', ')}); ` +
      `requests per process ${proxy.forwarded.join('/')}; races ${raceResults.join(', ')}; ` +
      `${events('completed').length} completed, ${events('expired').length} expired; ${Date.now() - started} ms`,
  )
})
