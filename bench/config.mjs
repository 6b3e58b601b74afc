// Workload sizes for a full run and for --quick.
const MiB = 1024 * 1024
const GiB = 1024 * MiB

export const SERVERS = (process.env.BENCH_SERVERS ?? 'bare,ours,tus-server,ours-plain,express-bare').split(',')
/** Servers for the memory (huge) and checksum workloads: the ones the targets compare. */
export const MAIN_SERVERS = SERVERS.filter((s) => s !== 'ours-plain' && s !== 'express-bare')
/** bare in Express shows what Express itself costs per request: measured where that dominates. */
export const EXPRESS_BARE_WORKLOADS = ['small', 'head']
/** --metrics: tus-middleware with Prometheus metrics on, measured beside `ours` where requests dominate. */
export const METRICS_WORKLOADS = ['small', 'head']
export const LABELS = {
  'express-bare': 'bare in Express',
  bare: 'bare node:http',
  ours: 'tus-middleware',
  'tus-server': '@tus/server',
  'ours-plain': 'ours, node:http',
  'ours-metrics': 'ours + metrics',
}
export const ALGORITHMS = ['sha1', 'sha256', 'crc32']

export function config(quick) {
  return quick
    ? {
        rounds: 1,
        big: { size: 256 * MiB },
        chunks: { size: 64 * MiB, chunk: MiB },
        small: { count: 500, size: 4096, concurrency: 32, warmup: 200 },
        head: { count: 2000, uploads: 64, concurrency: 32, warmup: 1000 },
        huge: { size: GiB },
        checksum: { size: 256 * MiB },
      }
    : {
        rounds: 5,
        big: { size: GiB },
        chunks: { size: 256 * MiB, chunk: MiB },
        small: { count: 2000, size: 4096, concurrency: 32, warmup: 500 },
        head: { count: 5000, uploads: 64, concurrency: 32, warmup: 2000 },
        huge: { size: 4 * GiB },
        checksum: { size: GiB },
      }
}

export const size = (bytes) => (bytes >= GiB ? `${bytes / GiB} GiB` : `${bytes / MiB} MiB`)
