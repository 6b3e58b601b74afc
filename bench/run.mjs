// npm run bench [-- --quick] [--rounds N] [--only big,chunks,small,head,huge,checksum] [--metrics] [--profile SERVER] [--dir PATH]
//
// Runs each server in its own process and the client in another, all on loopback; interleaves the servers
// (the order rotates every round) and reports medians and ratios. See bench/README.md for the method.
import { execFile, fork } from 'node:child_process'
import { mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { mkdtemp, readdir, rm, stat } from 'node:fs/promises'
import { cpus, loadavg, tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { parseArgs } from 'node:util'
import { ALGORITHMS, config, LABELS, MAIN_SERVERS, METRICS_WORKLOADS, SERVERS, size, EXPRESS_BARE_WORKLOADS } from './config.mjs'
import { renderTable } from './table.mjs'

const here = fileURLToPath(new URL('.', import.meta.url))
const { values: args } = parseArgs({
  options: {
    quick: { type: 'boolean', default: false },
    rounds: { type: 'string' },
    only: { type: 'string' },
    profile: { type: 'string' },
    dir: { type: 'string' },
    metrics: { type: 'boolean', default: false },
  },
})
const cfg = config(args.quick)
const rounds = args.rounds ? Number(args.rounds) : cfg.rounds
const only = args.only ? new Set(args.only.split(',')) : undefined
const wanted = (w) => !only || only.has(w)
const resultsDir = join(here, 'results')
mkdirSync(resultsDir, { recursive: true })

const client = fork(join(here, 'client.mjs'), [], { stdio: 'inherit' })
let seq = 0
const pending = new Map()
client.on('message', (msg) => pending.get(msg.seq)?.(msg))
const ask = (msg) => new Promise((resolve) => pending.set((msg.seq = ++seq), resolve))
const askClient = (msg) => {
  const p = ask(msg)
  client.send(msg)
  return p
}

function procStatus(pid, field) {
  const line = readFileSync(`/proc/${pid}/status`, 'utf8').split('\n').find((l) => l.startsWith(field))
  return Number(line.split(/\s+/)[1]) / 1024 // kB -> MB
}

/** CPU seconds (user + system) the process has used so far. */
function cpuSeconds(pid) {
  const fields = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1].split(' ')
  return (Number(fields[11]) + Number(fields[12])) / 100 // utime, stime in clock ticks (USER_HZ = 100)
}

/**
 * Writes every dirty page back before a measurement, so that none starts while the disk is still busy with
 * the gigabytes an earlier one wrote (an fsync would then wait behind that writeback: noise, not the server).
 */
const settleDisk = () =>
  new Promise((resolve) => execFile('sync', (err) => resolve(err ? console.warn(`sync failed: ${err.message}`) : undefined)))

/** Starts a server on a fresh temp directory, runs one workload against it, stops it, removes the files. */
async function measure(server, workload, params) {
  await settleDisk()
  const dir = await mkdtemp(join(args.dir ?? tmpdir(), `tus-bench-${server}-`))
  const execArgv = args.profile === server ? ['--cpu-prof', '--cpu-prof-dir', join(resultsDir, 'profiles')] : []
  const child = fork(join(here, 'servers', `${server}.mjs`), [dir], { execArgv, stdio: 'inherit' })
  try {
    const { port } = await new Promise((resolve, reject) => {
      child.once('message', resolve)
      child.once('exit', (code) => reject(new Error(`${server} exited (${code}) before listening`)))
    })
    const idle = procStatus(child.pid, 'VmRSS')
    const origin = `http://127.0.0.1:${port}`
    const { warmup = 0, ...measured } = params
    if (warmup > 0) {
      // Untimed, the same kind of requests (see workloads.mjs): the figures are those of a running server.
      const warm = await askClient({ workload, origin, params: { ...measured, count: warmup } })
      if (warm.error) throw new Error(`${server} ${workload} (warm-up): ${warm.error}`)
    }
    const cpu0 = cpuSeconds(child.pid)
    const result = await askClient({ workload, origin, params: measured })
    // Peak RSS covers the process's whole life, warm-up included.
    const rss = procStatus(child.pid, 'VmHWM')
    // Includes the workload's untimed setup (creating uploads for HEAD), not the warm-up: a guide for
    // profiling, not a score.
    const cpu = cpuSeconds(child.pid) - cpu0
    if (result.error) throw new Error(`${server} ${workload}: ${result.error}`)
    if (result.bytes !== undefined) await checkStored(dir, result.bytes, `${server} ${workload}`)
    return { ...result, idle, rss, cpu }
  } finally {
    child.send('stop')
    await new Promise((resolve) => (child.exitCode !== null ? resolve() : child.once('exit', resolve)))
    // Thousands of small files are removed at the end of the run: deleting them here would slow file creation
    // for whichever server runs next (the filesystem avoids reusing recently freed inodes). Large files go now.
    if (workload === 'small' || workload === 'head') leftovers.push(dir)
    else await rm(dir, { recursive: true, force: true })
  }
}
const leftovers = []
// Also when a measurement fails and the run stops.
process.on('exit', () => {
  for (const dir of leftovers) rmSync(dir, { recursive: true, force: true })
})

/** The bytes really reached the disk: some file in the directory has exactly the upload's size. */
async function checkStored(dir, bytes, what) {
  for (const name of await readdir(dir)) {
    if ((await stat(join(dir, name))).size === bytes) return
  }
  throw new Error(`${what}: no stored file of ${bytes} bytes`)
}

const rateOf = (r) => (r.skipped ? undefined : r.bytes !== undefined ? r.bytes / 1048576 / r.seconds : r.ops / r.seconds)
const median = (xs) => {
  const s = xs.filter((x) => x !== undefined).sort((a, b) => a - b)
  if (s.length === 0) return undefined
  return s.length % 2 ? s[(s.length - 1) / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2
}

const samples = {} // samples[workload][server] = [result...]
const record = (workload, server, r) => {
  ;((samples[workload] ??= {})[server] ??= []).push(r)
  const rate = rateOf(r)
  const shown = r.skipped ? `skipped: ${r.skipped}` : `${rate.toFixed(0)} ${r.bytes !== undefined ? 'MiB/s' : 'ops/s'}, peak RSS ${r.rss.toFixed(0)} MB, server CPU ${(r.cpu * 1000).toFixed(0)} ms`
  console.log(`  ${workload.padEnd(16)} ${LABELS[server].padEnd(16)} ${shown}`)
}

const started = Date.now()
const load = loadavg()[0]
console.log(`tus benchmark (${args.quick ? 'quick' : 'full'}), ${rounds} round(s), ${cpus().length} CPUs, load ${load.toFixed(2)}`)
for (let round = 0; round < rounds; round++) {
  console.log(`round ${round + 1}/${rounds}`)
  // Rotate the order each round so that drift in machine load falls on every server alike.
  // --metrics measures tus-middleware with metrics on among the others, for the workloads it concerns.
  const servers = args.metrics ? [...SERVERS, 'ours-metrics'] : SERVERS
  const order = servers.map((_, i) => servers[(i + round) % servers.length])
  for (const workload of ['big', 'chunks', 'small', 'head']) {
    if (!wanted(workload)) continue
    for (const server of order) {
      if (server === 'express-bare' && !EXPRESS_BARE_WORKLOADS.includes(workload)) continue
      if (server === 'ours-metrics' && !METRICS_WORKLOADS.includes(workload)) continue
      record(workload, server, await measure(server, workload, cfg[workload]))
    }
  }
  if (wanted('checksum')) {
    // The same PATCH without a checksum is measured among them (tus-middleware only), in a rotating order, so
    // that "vs no checksum" compares runs made at the same moment.
    const algorithms = ['none', ...ALGORITHMS]
    for (let i = 0; i < algorithms.length; i++) {
      const algorithm = algorithms[(i + round) % algorithms.length]
      const key = `checksum-${algorithm}`
      for (const server of order) {
        if (!MAIN_SERVERS.includes(server) || (algorithm === 'none' && server !== 'ours')) continue
        if (samples[key]?.[server]?.[0]?.skipped) continue // a server that cannot take it is asked once
        const params = { ...cfg.checksum, algorithm }
        record(key, server, await measure(server, algorithm === 'none' ? 'big' : 'checksum', params))
      }
    }
  }
}
if (wanted('huge')) {
  console.log(`memory: one ${size(cfg.huge.size)} PATCH per server (run once)`)
  for (const server of MAIN_SERVERS) record('huge', server, await measure(server, 'big', cfg.huge))
}
client.disconnect()
for (const dir of leftovers) await rm(dir, { recursive: true, force: true })

const medians = {}
for (const [workload, byServer] of Object.entries(samples)) {
  medians[workload] = {}
  for (const [server, rs] of Object.entries(byServer)) {
    medians[workload][server] = rs[0].skipped
      ? { skipped: rs[0].skipped }
      : {
          rate: median(rs.map(rateOf)),
          rss: median(rs.map((r) => r.rss)),
          idle: median(rs.map((r) => r.idle)),
          // Server CPU per request-bound operation: steadier than rates on a machine shared with other jobs.
          cpuPerOp: median(rs.map((r) => (r.ops ? r.cpu / r.ops : undefined))),
        }
  }
}
const minutes = (Date.now() - started) / 60000
const command = `npm run bench${process.argv.length > 2 ? ` -- ${process.argv.slice(2).join(' ')}` : ''}`
const lines = [
  `Run ${new Date().toISOString().slice(0, 16).replace('T', ' ')} UTC with \`${command}\`: ${rounds} round(s), medians; ` +
    `Node ${process.version}, ${cpus().length} CPUs (shared; 1-min load ${load.toFixed(2)} at start), ${minutes.toFixed(1)} min.`,
  '',
  ...renderTable(medians, cfg),
]
console.log(`\n${lines.join('\n')}`)
writeFileSync(join(resultsDir, 'latest.json'), JSON.stringify({ cfg, rounds, samples, medians }, null, 2))
writeFileSync(join(resultsDir, 'latest.md'), `${lines.join('\n')}\n`)
// Only a default run (every server, every workload, the OS temp dir, no profiler) replaces the README's table.
const defaultRun = !args.quick && !only && args.rounds === undefined && !args.dir && !args.profile && !process.env.BENCH_SERVERS
if (defaultRun) updateReadme(lines)

/** Replaces the table between the markers in bench/README.md. */
function updateReadme(table) {
  const file = join(here, 'README.md')
  const text = readFileSync(file, 'utf8')
  const start = '<!-- results:start -->'
  const end = '<!-- results:end -->'
  const a = text.indexOf(start)
  const b = text.indexOf(end)
  if (a === -1 || b === -1) return console.warn('bench/README.md has no results markers; not updated')
  writeFileSync(file, `${text.slice(0, a + start.length)}\n${table.join('\n')}\n${text.slice(b)}`)
  console.log('\nbench/README.md updated')
}
