/**
 * Three instances of an Express app (S3Store on Ceph RGW, RedisLocker on 127.0.0.1:6379), each a child process
 * running the built package, behind a real round-robin HAProxy that sends every request to the next instance and
 * streams bodies. tus-js-client uploads through it (chunked, resumed after abort, in parallel parts, of deferred
 * length); one instance is SIGKILLed while a PATCH streams to it; two clients race on one upload through two
 * instances. Every upload is read back through the balancer and compared by sha256, and `completed` fires once
 * per upload across the instances. No sticky sessions anywhere.
 *
 * Skipped, saying why, when Redis does not answer, HAProxy cannot be installed, or Ceph is not available.
 */
import { randomBytes } from 'node:crypto'
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { Readable } from 'node:stream'
import type { Upload } from 'tus-js-client'
import { afterAll, beforeAll, beforeEach, describe, expect, it, onTestFailed } from 'vitest'
import { sha256 } from '../helpers/bytes.js'
import { idOf, OCTET, pathOf, TUS } from '../helpers/tus.js'
import { upload } from '../interop/client.js'
import { adminClient, redisReachable, removeKeys } from '../redis/redis.js'
import { useRgw } from '../s3/rgw.js'
import { Balancer, freePort, haproxyUnavailable, Instance } from './cluster.js'

const MiB = 1024 * 1024
const RETRIES = [0, 200, 500, 1000, 2000]

let skip = (await redisReachable()) ? await haproxyUnavailable() : 'Redis not reachable on 127.0.0.1:6379 (scripts/start-redis.sh)'
const rgw = skip ? undefined : await useRgw().then((r) => ((skip = r.skip), r.rgw))

const runId = randomBytes(6).toString('hex')
const redisPrefix = `tus-lb:${runId}:`
const instances: Instance[] = []
let balancer: Balancer
let dir: string
/** Every upload that should complete, by id: the sha256 of its bytes. */
const expected = new Map<string, string>()

const events = () => instances.flatMap((i) => i.events())

/** What the test saw (client retries, the kill), with times; printed with the instances' lines when a test fails. */
let notes: Array<[number, string]> = []
const note = (line: string) => notes.push([Date.now(), `test: ${line}`])
function printTimeline(since: number): void {
  const lines = [...notes, ...instances.flatMap((i) => i.linesSince(since))].filter(([, l]) => !l.includes(': s3 '))
  lines.sort((a, b) => a[0] - b[0])
  console.log(`timeline of the failed test (ms since it started):\n${lines.map(([t, l]) => `${t - since} ${l}`).join('\n')}`)
}
/** tus-js-client's retry hook: the default decision (retry unless a 4xx other than 409/423), noted. */
const noteRetry = (err: Error & { originalResponse?: { getStatus(): number } | null }) => {
  const status = err.originalResponse?.getStatus() ?? 0
  note(`client retries after: ${err.message.slice(0, 160)}`)
  return !(status >= 400 && status < 500 && status !== 409 && status !== 423)
}
const servedBy = (method: string, path: string) =>
  new Set(events().filter((e) => e.kind === 'req' && e.words[0] === method && e.words[1] === path).map((e) => e.instance))

async function readBack(url: string): Promise<Buffer> {
  const res = await fetch(url, { headers: TUS, signal: AbortSignal.timeout(30_000) })
  expect(res.status).toBe(200)
  return Buffer.from(await res.arrayBuffer())
}

async function check(url: string, data: Buffer): Promise<void> {
  expect(sha256(await readBack(url))).toBe(sha256(data))
  expected.set(idOf(url), sha256(data))
}

describe.skipIf(skip)(`three instances behind HAProxy${skip ? ` (${skip})` : ''}`, () => {
  beforeAll(async () => {
    // The cluster needs Ceph; useRgw above started one for this file unless S3_ENDPOINT names one.
    const { accessKeyId, secretAccessKey } = rgw!.config.credentials as { accessKeyId: string; secretAccessKey: string }
    const env = {
      S3_ENDPOINT: rgw!.endpoint,
      S3_BUCKET: rgw!.bucket,
      S3_ACCESS_KEY: accessKeyId,
      S3_SECRET_KEY: secretAccessKey,
      S3_PREFIX: `lb-${runId}/`,
      REDIS_PREFIX: redisPrefix,
      // A killed instance's locks free its uploads after 3 s (the default is 10 s).
      LEASE_MS: '3000',
    }
    for (const name of ['a', 'b', 'c']) instances.push(new Instance(name, await freePort(), env))
    await Promise.all(instances.map((i) => i.start()))
    dir = await mkdtemp(join(tmpdir(), 'tus-lb-'))
    balancer = await Balancer.start(instances.map((i) => i.port), join(dir, 'haproxy.cfg'))
  })

  beforeEach(() => {
    const since = Date.now()
    notes = []
    onTestFailed(() => printTimeline(since))
  })

  afterAll(async () => {
    await balancer?.stop()
    await Promise.all(instances.map((i) => i.kill('SIGTERM')))
    if (dir) await rm(dir, { recursive: true, force: true })
    const admin = await adminClient()
    await removeKeys(admin, redisPrefix)
    admin.destroy()
  })

  it('tus-js-client uploads in chunks that are no multiple of the part size, each PATCH to the next instance', async () => {
    const data = randomBytes(17 * MiB + 4321)
    const url = await upload(data, { endpoint: balancer.url, chunkSize: 7 * MiB + 1, retryDelays: RETRIES, onShouldRetry: noteRetry })
    expect(servedBy('PATCH', pathOf(url)).size).toBe(3)
    await check(url, data)
  })

  it('resumes after abort() from the stored URL, through other instances', async () => {
    const data = randomBytes(14 * MiB + 17)
    const chunkSize = 3 * MiB + 7
    let current: Upload | undefined
    const url = await new Promise<string>((resolve, reject) => {
      let chunks = 0
      upload(data, {
        endpoint: balancer.url,
        chunkSize,
        onChunkComplete: () => {
          if (++chunks === 2) current!.abort().then(() => resolve(current!.url!), reject)
        },
      }, (u) => (current = u)).then(() => reject(new Error('finished before it was aborted')), reject)
    })
    const head = await fetch(url, { method: 'HEAD', headers: TUS })
    expect(Number(head.headers.get('upload-offset'))).toBeGreaterThanOrEqual(2 * chunkSize)
    const posts = events().filter((e) => e.kind === 'req' && e.words[0] === 'POST').length

    expect(await upload(data, { endpoint: balancer.url, uploadUrl: url, chunkSize, retryDelays: RETRIES, onShouldRetry: noteRetry })).toBe(url)
    expect(events().filter((e) => e.kind === 'req' && e.words[0] === 'POST').length).toBe(posts)
    await check(url, data)
  })

  it('uploads in three parallel parts and concatenates them (parts and final on different instances)', async () => {
    const data = randomBytes(18 * MiB + 99)
    const url = await upload(data, { endpoint: balancer.url, parallelUploads: 3, retryDelays: RETRIES, onShouldRetry: noteRetry })
    await check(url, data)
  })

  it('uploads a stream of deferred length', async () => {
    const data = randomBytes(13 * MiB + 77)
    const pieces = Array.from({ length: Math.ceil(data.length / MiB) }, (_, i) => data.subarray(i * MiB, (i + 1) * MiB))
    const url = await upload(Readable.from(pieces), {
      endpoint: balancer.url,
      uploadLengthDeferred: true,
      chunkSize: 6 * MiB + 5,
      retryDelays: RETRIES,
      onShouldRetry: noteRetry,
    })
    await check(url, data)
  })

  it('spread the requests over every instance', () => {
    for (const instance of instances) {
      const served = instance.events().filter((e) => e.kind === 'req')
      expect(served.length, instance.name).toBeGreaterThan(5)
      expect(served.some((e) => e.words[0] === 'PATCH'), instance.name).toBe(true)
    }
  })

  it('two clients PATCHing one upload at the same offset through two instances never interleave their bytes', async () => {
    for (const size of [12 * MiB + 3, 3 * MiB + 3]) {
      const length = 2 * size
      const created = await fetch(balancer.url, { method: 'POST', headers: { ...TUS, 'Upload-Length': String(length) } })
      expect(created.status).toBe(201)
      const url = created.headers.get('location')!
      const bodies = [randomBytes(size), randomBytes(size)]
      const answers = await Promise.allSettled(
        bodies.map((body) =>
          fetch(url, { method: 'PATCH', headers: { ...TUS, ...OCTET, 'Upload-Offset': '0' }, body }).then(async (res) => {
            await res.arrayBuffer()
            return res.status
          }),
        ),
      )
      // Both reached the middleware, on two instances (round robin).
      expect(servedBy('PATCH', pathOf(url)).size).toBe(2)
      for (const a of answers) if (a.status === 'fulfilled') expect([204, 409, 423]).toContain(a.value)

      const head = await fetch(url, { method: 'HEAD', headers: TUS })
      const offset = Number(head.headers.get('upload-offset'))
      expect(offset).toBeGreaterThan(0)
      expect(offset).toBeLessThanOrEqual(size)
      // Finish it with the first body's rest, read it back: the stored part is a prefix of exactly one body.
      const rest = Buffer.concat([bodies[0]!, bodies[0]!]).subarray(offset)
      const done = await fetch(url, { method: 'PATCH', headers: { ...TUS, ...OCTET, 'Upload-Offset': String(offset) }, body: rest })
      expect(done.status).toBe(204)
      const stored = await readBack(url)
      expect(stored.length).toBe(length)
      const prefix = stored.subarray(0, offset)
      const matches = bodies.filter((b) => b.subarray(0, offset).equals(prefix))
      expect(matches).toHaveLength(1)
      expect(stored.subarray(offset).equals(rest)).toBe(true)
      expected.set(idOf(url), sha256(stored))
    }
  })

  // A killed instance's lease (LEASE_MS) runs out, the client retries, the instance restarts: some seconds, more
  // on a loaded machine, hence its own timeout.
  it('an instance SIGKILLed while a PATCH streams to it: the client retries through the balancer and completes', async () => {
    const data = randomBytes(26 * MiB + 555)
    let current: Upload | undefined
    let killed: { instance: Instance; request: string } | undefined
    let killing: Promise<void> | undefined
    // Kill the instance receiving the first PATCH once it has stored a part of it: 16 MiB of it are still to come.
    const watch = setInterval(() => {
      if (killing || !current?.url) return
      const request = `PATCH ${pathOf(current.url)}`
      const instance = instances.find((i) => i.callsDuring(request)?.includes('UploadPartCommand'))
      if (!instance) return
      killed = { instance, request }
      note(`SIGKILL ${instance.name}`)
      killing = instance.kill('SIGKILL')
    }, 2)
    const options = { endpoint: balancer.url, chunkSize: 21 * MiB + 1, retryDelays: RETRIES, onShouldRetry: noteRetry }
    const url = await upload(data, options, (u) => (current = u)).finally(() => clearInterval(watch))
    note('upload finished')
    await killing
    expect(killed).toBeDefined()
    const { instance, request } = killed!
    // That PATCH was never answered by the killed instance; another one took the upload over and finished it.
    expect(instance.open()).toContain(request)
    const path = pathOf(url)
    const others = instances.filter((i) => i !== instance)
    expect(others.some((i) => i.events().some((e) => e.kind === 'req' && e.words[0] === 'PATCH' && e.words[1] === path))).toBe(true)
    await check(url, data)
    const server = `instances/i${instances.indexOf(instance) + 1}`
    expect(balancer.log()).toContain(`Server ${server} is DOWN`)

    // Started again on its port, it gets requests again once HAProxy's health check sees it up.
    await instance.start()
    note('restarted')
    const before = instance.events().length
    for (let i = 0; i < 50 && instance.events().length === before; i++) {
      await fetch(url, { method: 'HEAD', headers: TUS, signal: AbortSignal.timeout(10_000) })
      await new Promise((r) => setTimeout(r, 50))
    }
    expect(instance.events().length).toBeGreaterThan(before)
    expect(balancer.log()).toContain(`Server ${server} is UP`)
  }, 120_000)

  it('fired `completed` exactly once per upload, summed over the instances', () => {
    const counts = new Map<string, number>()
    for (const e of events()) if (e.kind === 'completed') counts.set(e.words[0]!, (counts.get(e.words[0]!) ?? 0) + 1)
    expect([...counts.keys()].sort()).toEqual([...expected.keys()].sort())
    for (const [id, n] of counts) expect(n, id).toBe(1)
    expect(expected.size).toBe(7)
  })
})
