/**
 * Prometheus metrics (option `metrics`: a prom-client Registry). Every metric is named tus_*, and labels stay
 * low-cardinality: a method from a fixed set, an HTTP status, a store method name; never an upload id, a path
 * or a metadata value. With the option off none of this is loaded and the core pays one undefined check.
 */
import type { EventEmitter } from 'node:events'
import type { ServerResponse } from 'node:http'
import { performance } from 'node:perf_hooks'
import type { ResolvedOptions } from '../options.js'
import { countLockWaits } from './locker-metrics.js'
import { loadPromClient, type PromCounter, type PromHistogram } from './load-prom-client.js'
import { countStoreErrors } from './store-metrics.js'

/** What the `metrics` option takes: a prom-client Registry (typed structurally, so prom-client stays optional). */
export interface MetricsRegistry {
  registerMetric(metric: any): void
}

/** The methods a request may be labelled with; anything else is "other". */
const METHODS = new Set(['POST', 'HEAD', 'PATCH', 'GET', 'DELETE', 'OPTIONS'])

/** Seconds: from a HEAD in a millisecond to a large PATCH over a slow link. */
const REQUEST_BUCKETS = [0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300]
const LOCK_BUCKETS = [0.0005, 0.001, 0.005, 0.01, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10]

/** The metrics of one registry; several tus() on the same registry share them (and add up). */
interface Instruments {
  created: PromCounter
  completed: PromCounter
  terminated: PromCounter
  expired: PromCounter
  bytes: PromCounter
  /** Requests answered since the last scrape, "<method> <status>" -> count: added to tus_requests_total then. */
  answered: Map<string, number>
  duration: PromHistogram
  lockWait: PromHistogram
  lockTimeouts: PromCounter
  storeErrors: PromCounter
  /** Each middleware's count of requests receiving bytes; the gauge is their sum. */
  receiving: Set<() => number>
}

const byRegistry = new WeakMap<MetricsRegistry, Instruments>()

function instruments(registry: MetricsRegistry): Instruments {
  let found = byRegistry.get(registry)
  if (found) return found
  const { Counter, Histogram, Gauge } = loadPromClient()
  const registers = [registry]
  const counter = (name: string, help: string, labelNames: string[] = []) => new Counter({ name, help, labelNames, registers })
  const receiving = new Set<() => number>()
  // Counting requests in a Map and adding them up when scraped costs a request a tenth of a labelled inc().
  const answered = new Map<string, number>()
  const requests: PromCounter = new Counter({
    name: 'tus_requests_total',
    help: 'Requests answered by the middleware, by method and status',
    labelNames: ['method', 'status'],
    registers,
    collect: () => {
      for (const [key, count] of answered) {
        const space = key.indexOf(' ')
        requests.inc({ method: key.slice(0, space), status: key.slice(space + 1) }, count)
      }
      answered.clear()
    },
  })
  found = {
    created: counter('tus_uploads_created_total', 'Uploads created'),
    completed: counter('tus_uploads_completed_total', 'Uploads completed (every byte stored; partial uploads of a concatenation not counted)'),
    terminated: counter('tus_uploads_terminated_total', 'Uploads removed by a DELETE (termination)'),
    expired: counter('tus_uploads_expired_total', 'Unfinished uploads removed because they expired'),
    bytes: counter('tus_bytes_received_total', 'Upload bytes received and kept (counted in an upload offset; refused bodies not counted)'),
    answered,
    duration: new Histogram({
      name: 'tus_request_duration_seconds',
      help: 'Time from a request reaching the middleware to its response ending, by method',
      labelNames: ['method'],
      buckets: REQUEST_BUCKETS,
      registers,
    }),
    lockWait: new Histogram({
      name: 'tus_lock_wait_seconds',
      help: "Time a request waited for an upload's lock, for granted locks",
      buckets: LOCK_BUCKETS,
      registers,
    }),
    lockTimeouts: counter('tus_lock_timeouts_total', "Lock requests refused with UPLOAD_LOCKED (timed out, or the waiting client left)"),
    storeErrors: counter('tus_store_errors_total', 'Store calls that failed (not counting protocol answers such as NOT_FOUND), by store method', ['operation']),
    receiving,
  }
  const gauge = new Gauge({
    name: 'tus_uploads_receiving',
    help: 'Requests receiving upload bytes right now',
    registers,
    collect: () => {
      let sum = 0
      for (const read of receiving) sum += read()
      gauge.set(sum)
    },
  })
  byRegistry.set(registry, found)
  return found
}

export class Metrics {
  private readonly m: Instruments

  /** `receiving` reads the middleware's count of requests receiving bytes (for the gauge, at scrape time). */
  constructor(registry: MetricsRegistry, emitter: EventEmitter, receiving: () => number) {
    const m = (this.m = instruments(registry))
    m.receiving.add(receiving)
    // Expiry (rare, outside requests) is counted from its event; the others are counted by event() below, so that
    // metrics alone make the core copy no upload for a listener.
    emitter.on('expired', () => m.expired.inc())
  }

  /** An upload event, as it is released after its response. */
  event(name: 'created' | 'progress' | 'completed' | 'terminated'): void {
    if (name === 'created') this.m.created.inc()
    else if (name === 'completed') this.m.completed.inc()
    else if (name === 'terminated') this.m.terminated.inc()
  }

  /** The options with the store and the locker wrapped to count store errors and lock waits. */
  instrument(options: ResolvedOptions): ResolvedOptions {
    const { m } = this
    return Object.freeze({
      ...options,
      store: countStoreErrors(options.store, m.storeErrors),
      locker: countLockWaits(options.locker, m.lockWait, m.lockTimeouts),
    })
  }

  /** Counts a request and its duration once its response has ended (or its connection closed). */
  request(method: string, res: ServerResponse): void {
    const start = performance.now()
    const { answered, duration } = this.m
    // 'close' comes once, after the response ended or the connection closed ('on': cheaper than 'once').
    res.on('close', () => {
      const label = METHODS.has(method) ? method : 'other'
      // A response never started (the client left first) has no status to report.
      const key = `${label} ${res.headersSent ? res.statusCode : 'aborted'}`
      answered.set(key, (answered.get(key) ?? 0) + 1)
      duration.observe({ method: label }, (performance.now() - start) / 1000)
    })
  }

  /** Bytes that became part of an upload's offset (verified, when a checksum was given). */
  bytesKept(bytes: number): void {
    if (bytes > 0) this.m.bytes.inc(bytes)
  }
}

/** The metrics for `options.metrics`, or undefined when the option is not set. */
export function createMetrics(options: ResolvedOptions, emitter: EventEmitter, receiving: () => number): Metrics | undefined {
  return options.metrics ? new Metrics(options.metrics, emitter, receiving) : undefined
}
