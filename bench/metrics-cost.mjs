// node bench/metrics-cost.mjs (after npm run build)
//
// The CPU the `metrics` option adds to one request, measured in one process without HTTP: what the middleware
// does per request with metrics on (count the request and its duration when its response closes, time the
// lock, go through the store wrapper) against the same without it. Steadier than the HTTP benchmark on a
// shared machine; that one (`npm run bench -- --metrics`) shows the effect on whole requests.
import { EventEmitter } from 'node:events'
import { Registry } from 'prom-client'
import { MemoryLocker, MemoryStore } from '../dist/esm/index.js'
import { Metrics } from '../dist/esm/metrics/metrics.js'

const N = 200_000
const ROUNDS = 7

const store = new MemoryStore()
await store.create({ id: 'a', length: 10, metadata: {}, createdAt: new Date().toISOString() })
const base = { store, locker: new MemoryLocker() }
const metrics = new Metrics(new Registry(), new EventEmitter(), () => 0)
const wrapped = metrics.instrument(base)

/** What a HEAD does that metrics touch: lock, store lookup, release, response close. */
async function request(options, m) {
  const res = new EventEmitter()
  res.headersSent = true
  res.statusCode = 200
  m?.request('HEAD', res)
  const lock = await options.locker.lock('a', { timeout: 1000, onReleaseRequested() {} })
  await options.store.get('a')
  await lock.release()
  res.emit('close')
}

async function cpuPerOp(options, m) {
  const t = process.cpuUsage()
  for (let i = 0; i < N; i++) await request(options, m)
  const d = process.cpuUsage(t)
  return (d.user + d.system) / N
}

const off = []
const on = []
for (let round = 0; round < ROUNDS; round++) {
  // Alternate the order so that drift in machine load falls on both alike.
  if (round % 2) off.push(await cpuPerOp(base)), on.push(await cpuPerOp(wrapped, metrics))
  else on.push(await cpuPerOp(wrapped, metrics)), off.push(await cpuPerOp(base))
}
const median = (xs) => xs.sort((a, b) => a - b)[xs.length >> 1]
const [a, b] = [median(off), median(on)]
console.log(`per request, median of ${ROUNDS} rounds of ${N}: metrics off ${a.toFixed(2)} µs CPU, on ${b.toFixed(2)} µs: +${(b - a).toFixed(2)} µs`)
