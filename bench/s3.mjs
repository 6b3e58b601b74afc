// S3 benchmark: one PATCH of 256 MiB and of 2 GiB through tus-middleware + S3Store, through @tus/server +
// @tus/s3-store, and a direct SDK multipart upload of the same bytes (parts sent concurrently), side by side in
// one run against the same Ceph RGW. Each contender runs in its own process; this process is the HTTP client
// (bench/wire.mjs, bodies from one reused buffer). Reports MiB/s, the server's peak RSS (VmHWM) and ratios.
//
//   npm run build && node bench/s3.mjs [--sizes 256,2048] [--rounds 3] [--big-rounds 1] [--part 8]
//        [--direct 4] [--sweep 1,2,4,8] [--ours-concurrency N] [--profile]
//
// Without S3_ENDPOINT (S3_BUCKET, S3_ACCESS_KEY, S3_SECRET_KEY) it starts a throw-away RGW with
// scripts/ceph-s3.sh (memstore of MEM_BYTES, default here 6 GiB) and stops it at the end. Every object and
// multipart upload in the bucket is deleted after each measurement, so use a bucket of its own.
import {
  AbortMultipartUploadCommand,
  DeleteObjectsCommand,
  HeadObjectCommand,
  ListMultipartUploadsCommand,
  ListObjectsV2Command,
  S3Client,
} from '@aws-sdk/client-s3'
import { execFile, fork } from 'node:child_process'
import { readdirSync, readFileSync } from 'node:fs'
import { createServer } from 'node:net'
import { cpus, loadavg } from 'node:os'
import { fileURLToPath } from 'node:url'
import { parseArgs } from 'node:util'
import { closeAll, expect, send } from './http.mjs'

// The SDK warns about Node 20 once per process; the child processes get NODE_NO_WARNINGS.
const emitWarning = process.emitWarning
process.emitWarning = (warning, ...rest) => (String(warning).includes('node >=22') ? undefined : emitWarning.call(process, warning, ...rest))

const MiB = 1024 * 1024
const here = fileURLToPath(new URL('.', import.meta.url))
const { values: args } = parseArgs({
  options: {
    sizes: { type: 'string', default: '256,2048' },
    rounds: { type: 'string', default: '3' },
    'big-rounds': { type: 'string', default: '1' },
    part: { type: 'string', default: '8' },
    direct: { type: 'string', default: '4' },
    sweep: { type: 'string', default: '' },
    'ours-concurrency': { type: 'string' },
    profile: { type: 'boolean', default: false },
  },
})
const sizes = args.sizes.split(',').map((s) => Number(s) * MiB)
const partSize = Number(args.part) * MiB
const directConcurrency = Number(args.direct)

// --- the S3 endpoint --------------------------------------------------------------------------------------

const script = fileURLToPath(new URL('../scripts/ceph-s3.sh', import.meta.url))
const freePort = () =>
  new Promise((resolve, reject) => {
    const server = createServer()
    server.once('error', reject)
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address()
      server.close(() => resolve(port))
    })
  })
const run = (argv, env) =>
  new Promise((resolve, reject) =>
    execFile(script, argv, { env: { ...process.env, ...env }, timeout: 180_000 }, (err, stdout, stderr) => (err ? reject(new Error(`${err.message}\n${stderr}`)) : resolve(stdout))),
  )
let s3env
let stopRgw = async () => {}
/** The pid files of the Ceph daemons this run started (for their CPU time). */
let cephRun
if (process.env.S3_ENDPOINT) {
  s3env = {
    S3_ENDPOINT: process.env.S3_ENDPOINT,
    S3_BUCKET: process.env.S3_BUCKET ?? 'test-bucket',
    S3_ACCESS_KEY: process.env.S3_ACCESS_KEY ?? 'TESTACCESSKEY0000001',
    S3_SECRET_KEY: process.env.S3_SECRET_KEY ?? 'testsecretkey0000000000000000000000000001',
  }
} else {
  const ports = { MON_PORT: String(await freePort()), RGW_PORT: String(await freePort()), MEM_BYTES: process.env.MEM_BYTES ?? String(6 * 1024 * MiB) }
  console.log(`starting Ceph RGW (memstore ${Number(ports.MEM_BYTES) / 1024 / MiB} GiB) on port ${ports.RGW_PORT}`)
  const out = await run([], ports)
  s3env = Object.fromEntries([...out.matchAll(/(S3_\w+)=(\S+)/g)].map((m) => [m[1], m[2]]))
  stopRgw = () => run(['stop'], ports)
  cephRun = `${process.env.TMPDIR ?? '/tmp'}/tus-ceph-s3-${ports.RGW_PORT}/run`
}
const s3 = new S3Client({
  endpoint: s3env.S3_ENDPOINT,
  region: 'us-east-1',
  forcePathStyle: true,
  credentials: { accessKeyId: s3env.S3_ACCESS_KEY, secretAccessKey: s3env.S3_SECRET_KEY },
  requestChecksumCalculation: 'WHEN_REQUIRED',
  responseChecksumValidation: 'WHEN_REQUIRED',
})
const bucket = s3env.S3_BUCKET

/** Deletes every object and multipart upload in the bucket (RGW memstore keeps them in RAM). */
async function emptyBucket() {
  for (;;) {
    const page = await s3.send(new ListObjectsV2Command({ Bucket: bucket }))
    const keys = (page.Contents ?? []).map((o) => ({ Key: o.Key }))
    if (keys.length === 0) break
    await s3.send(new DeleteObjectsCommand({ Bucket: bucket, Delete: { Objects: keys, Quiet: true } }))
  }
  const mpus = await s3.send(new ListMultipartUploadsCommand({ Bucket: bucket }))
  for (const u of mpus.Uploads ?? []) await s3.send(new AbortMultipartUploadCommand({ Bucket: bucket, Key: u.Key, UploadId: u.UploadId }))
}

/** The size of the largest object in the bucket: the upload's bytes must all be there. */
async function largestObject() {
  const page = await s3.send(new ListObjectsV2Command({ Bucket: bucket }))
  let most = 0
  for (const o of page.Contents ?? []) most = Math.max(most, o.Size ?? 0)
  return most
}

// --- the contenders ---------------------------------------------------------------------------------------

/** CPU seconds (user + system) a process has used. */
const cpuOf = (pid) => {
  try {
    const f = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1].split(' ')
    return (Number(f[11]) + Number(f[12])) / 100
  } catch {
    return 0
  }
}
/** CPU seconds of the Ceph daemons (RGW, OSD, monitor) this run started; 0 for an endpoint given. */
const cephCpu = () => {
  if (!cephRun) return 0
  let sum = 0
  for (const name of readdirSync(cephRun)) if (name.endsWith('.pid')) sum += cpuOf(Number(readFileSync(`${cephRun}/${name}`, 'utf8')))
  return sum
}
const ownCpu = () => {
  const u = process.cpuUsage()
  return (u.user + u.system) / 1e6
}
const procStatus = (pid, field) => Number(new RegExp(`${field}:\\s+(\\d+)`).exec(readFileSync(`/proc/${pid}/status`, 'utf8'))[1]) / 1024
// NODE_NO_WARNINGS: the SDK warns about Node 20 in every process.
const childEnv = (extra = {}) => ({ ...process.env, NODE_NO_WARNINGS: '1', ...s3env, BENCH_PART_SIZE: String(partSize), ...extra })
const profileDir = fileURLToPath(new URL('./results/profiles', import.meta.url))

async function start(file, env) {
  const execArgv = args.profile ? ['--cpu-prof', '--cpu-prof-dir', profileDir] : []
  const child = fork(`${here}servers/${file}`, [], { env: childEnv(env), execArgv, stdio: 'inherit' })
  const first = await new Promise((resolve, reject) => {
    child.once('message', resolve)
    child.once('exit', (code) => reject(new Error(`${file} exited (${code}) before it was ready`)))
  })
  return { child, first }
}
async function stop(child) {
  child.send('stop')
  await new Promise((resolve) => (child.exitCode !== null ? resolve() : child.once('exit', resolve)))
}

/** One PATCH of `size` bytes to a tus server in its own process; resolves with { seconds, rss }. */
async function viaTus(file, size, env) {
  const { child, first } = await start(file, env)
  try {
    const origin = `http://127.0.0.1:${first.port}`
    const created = expect(await send(`${origin}/files`, 'POST', { 'Upload-Length': size }), 201, 'POST')
    const url = new URL(created.headers.location, origin).href
    const cpu0 = [cpuOf(child.pid), ownCpu(), cephCpu()]
    const t = performance.now()
    const res = expect(await send(url, 'PATCH', { 'Upload-Offset': 0 }, size), 204, 'PATCH')
    const seconds = (performance.now() - t) / 1000
    const cpu = { server: cpuOf(child.pid) - cpu0[0], client: ownCpu() - cpu0[1], ceph: cephCpu() - cpu0[2] }
    if (Number(res.headers['upload-offset']) !== size) throw new Error(`${file}: offset ${res.headers['upload-offset']}`)
    const rss = procStatus(child.pid, 'VmHWM')
    closeAll()
    return { seconds, rss, cpu }
  } finally {
    await stop(child)
  }
}

async function direct(size, concurrency) {
  const { child } = await start('s3-direct.mjs')
  try {
    const cpu0 = [cpuOf(child.pid), cephCpu()]
    const result = await new Promise((resolve) => {
      child.once('message', resolve)
      child.send({ size, concurrency, key: `direct-${Date.now()}` })
    })
    if (result.error) throw new Error(`direct upload: ${result.error}`)
    const cpu = { server: cpuOf(child.pid) - cpu0[0], client: 0, ceph: cephCpu() - cpu0[1] }
    return { seconds: result.seconds, rss: procStatus(child.pid, 'VmHWM'), cpu }
  } finally {
    await stop(child)
  }
}

const oursEnv = args['ours-concurrency'] ? { BENCH_PART_CONCURRENCY: args['ours-concurrency'] } : {}
const CONTENDERS = {
  ours: { label: 'tus-middleware + S3Store', run: (size) => viaTus('s3-ours.mjs', size, oursEnv) },
  direct: { label: `direct SDK multipart, ${directConcurrency} parts at a time`, run: (size) => direct(size, directConcurrency) },
  tus: { label: '@tus/server + @tus/s3-store', run: (size) => viaTus('s3-tus-server.mjs', size) },
}

const median = (xs) => {
  const s = [...xs].sort((a, b) => a - b)
  return s.length % 2 ? s[(s.length - 1) / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2
}
const label = (size) => (size >= 1024 * MiB ? `${size / 1024 / MiB} GiB` : `${size / MiB} MiB`)

async function measure(what, size, fn) {
  await emptyBucket()
  const r = await fn()
  const stored = await largestObject()
  if (stored !== size) throw new Error(`${what} ${label(size)}: the largest object has ${stored} bytes, not ${size}`)
  await emptyBucket()
  const rate = size / MiB / r.seconds
  // CPU seconds per GiB: the uploader (server, or the direct process), the HTTP client, the Ceph daemons.
  const perGiB = (x) => ((x * 1024 * MiB) / size).toFixed(1)
  console.log(
    `  ${label(size).padEnd(8)} ${what.padEnd(44)} ${rate.toFixed(0).padStart(5)} MiB/s  peak RSS ${r.rss.toFixed(0).padStart(4)} MB` +
      `  CPU s/GiB: uploader ${perGiB(r.cpu.server)}, client ${perGiB(r.cpu.client)}, Ceph ${perGiB(r.cpu.ceph)}`,
  )
  return { rate, rss: r.rss, cpu: r.cpu }
}

// --- the run ----------------------------------------------------------------------------------------------

const started = Date.now()
const load = loadavg()[0]
console.log(`S3 benchmark: parts of ${args.part} MiB, ${cpus().length} CPUs, 1-min load ${load.toFixed(2)}, endpoint ${s3env.S3_ENDPOINT}`)
const results = {}
try {
  for (const size of sizes) {
    const rounds = Number(size >= 1024 * MiB ? args['big-rounds'] : args.rounds)
    const names = Object.keys(CONTENDERS)
    for (let round = 0; round < rounds; round++) {
      // The order rotates every round, so that drift in the machine's load falls on every contender alike.
      for (const name of names.map((_, i) => names[(i + round) % names.length])) {
        const r = await measure(CONTENDERS[name].label, size, () => CONTENDERS[name].run(size))
        ;((results[size] ??= {})[name] ??= []).push(r)
      }
    }
  }
  const sweep = args.sweep ? args.sweep.split(',').map(Number) : []
  const sweepResults = []
  if (sweep.length > 0) {
    console.log(`RGW's own limit: direct SDK multipart uploads of ${label(sizes[0])} at several concurrencies`)
    for (const c of sweep) sweepResults.push([c, await measure(`direct SDK multipart, ${c} at a time`, sizes[0], () => direct(sizes[0], c))])
  }

  const lines = [
    `Run ${new Date().toISOString().slice(0, 16).replace('T', ' ')} UTC: \`node bench/s3.mjs ${process.argv.slice(2).join(' ')}\`; ` +
      `Node ${process.version}, ${cpus().length} CPUs (shared; 1-min load ${load.toFixed(2)} at start), ${((Date.now() - started) / 60000).toFixed(1)} min; medians.`,
    '',
    `| size | rounds | tus-middleware + S3Store | direct SDK (${directConcurrency} parts at a time) | @tus/server + @tus/s3-store | ours/direct | ours/@tus | peak RSS MB: ours | direct | @tus |`,
    '|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|',
  ]
  for (const size of sizes) {
    const m = (name, key) => median(results[size][name].map((r) => r[key]))
    const [o, d, t] = ['ours', 'direct', 'tus'].map((n) => m(n, 'rate'))
    const [ro, rd, rt] = ['ours', 'direct', 'tus'].map((n) => m(n, 'rss'))
    lines.push(
      `| ${label(size)} | ${results[size].ours.length} | ${o.toFixed(0)} MiB/s | ${d.toFixed(0)} MiB/s | ${t.toFixed(0)} MiB/s | ${(o / d).toFixed(2)} | ${(o / t).toFixed(2)} | ${ro.toFixed(0)} | ${rd.toFixed(0)} | ${rt.toFixed(0)} |`,
    )
  }
  if (sweepResults.length > 0) {
    lines.push('', `Direct SDK multipart upload of ${label(sizes[0])} by concurrency: ${sweepResults.map(([c, r]) => `${c}: ${r.rate.toFixed(0)} MiB/s`).join(', ')}`)
  }
  console.log(`\n${lines.join('\n')}`)
} finally {
  await stopRgw()
}
