/**
 * Loads prom-client, an optional peer dependency, when the `metrics` option is used (and only then), with a
 * clear error when it is not installed. Synchronous, because tus() is: see require.cjs for how both builds
 * load it. Only the few members the middleware uses are typed here, so that the package's own type
 * declarations do not need prom-client installed.
 */
import { requireOptional } from './require.cjs'

export type LabelValues = Record<string, string>

export interface PromCounter {
  inc(value?: number): void
  inc(labels: LabelValues, value?: number): void
}

export interface PromHistogram {
  observe(value: number): void
  observe(labels: LabelValues, value: number): void
}

export interface PromGauge {
  set(value: number): void
}

/** What the middleware hands to a metric's constructor (a subset of prom-client's configuration). */
export interface MetricConfig {
  name: string
  help: string
  labelNames?: readonly string[]
  buckets?: readonly number[]
  registers: readonly unknown[]
  collect?: () => void
}

export interface PromClient {
  Counter: new (config: MetricConfig) => PromCounter
  Histogram: new (config: MetricConfig) => PromHistogram
  Gauge: new (config: MetricConfig) => PromGauge
}

/** `name` is there for tests, which point it at a package that is not installed. */
export function loadPromClient(name = 'prom-client'): PromClient {
  let loaded: Partial<PromClient>
  try {
    loaded = requireOptional(name) as Partial<PromClient>
  } catch (err) {
    // Only the package itself missing; a broken installation (a missing dependency of it) keeps its own error.
    const missing = (err as NodeJS.ErrnoException)?.code === 'MODULE_NOT_FOUND' && String((err as Error).message).includes(`'${name}'`)
    if (!missing) throw err
    throw new Error(`tus(): option "metrics" needs the ${name} package, which is not installed: npm install ${name}`, { cause: err })
  }
  for (const member of ['Counter', 'Histogram', 'Gauge'] as const) {
    if (typeof loaded?.[member] !== 'function') throw new Error(`tus(): option "metrics": ${name} has no ${member} (prom-client 15 or later is needed)`)
  }
  return loaded as PromClient
}
