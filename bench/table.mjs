// Turns the medians into the results table (markdown), with ratios, absolutes and targets.
import { ALGORITHMS, size } from './config.mjs'

const fmt = (n, digits = 0) => (n === undefined ? '—' : n.toFixed(digits))
const ratio = (a, b) => (a === undefined || b === undefined ? undefined : a / b)
const mark = (ok) => (ok === undefined ? '' : ok ? ' ✓' : ' ✗')

/**
 * `m[workload][server]` holds { rate, rss } medians (rate: MiB/s or ops/s; rss: peak MB).
 * Returns markdown lines.
 */
export function renderTable(m, cfg) {
  const rows = [
    ['big', `one ${size(cfg.big.size)} PATCH`, 'MiB/s', { bare: 0.95 }],
    ['chunks', `${size(cfg.chunks.size)} as ${size(cfg.chunks.chunk)} PATCHes`, 'MiB/s', { bare: 0.85 }],
    ['small', `${cfg.small.count} × 4 KiB uploads (POST+PATCH), c=${cfg.small.concurrency}`, 'uploads/s', { tus: 2 }],
    ['head', `${cfg.head.count} HEADs, c=${cfg.head.concurrency}`, 'req/s', { tus: 10, bare: 0.6 }],
  ]
  const out = [
    '| workload | unit | bare | tus-middleware | @tus/server | ours/bare | ours/@tus | target | ours on node:http | its /bare | bare in Express | its /bare | ours / it |',
    '|---|---|---:|---:|---:|---:|---:|---|---:|---:|---:|---:|---:|',
  ]
  for (const [key, label, unit, target] of rows) {
    const r = m[key] ?? {}
    const rb = ratio(r.ours?.rate, r.bare?.rate)
    const rt = ratio(r.ours?.rate, r['tus-server']?.rate)
    const goals = []
    if (target.bare) goals.push(`≥ ${target.bare} × bare${mark(rb === undefined ? undefined : rb >= target.bare)}`)
    if (target.tus) goals.push(`≥ ${target.tus} × @tus${mark(rt === undefined ? undefined : rt >= target.tus)}`)
    out.push(
      `| ${label} | ${unit} | ${fmt(r.bare?.rate)} | ${fmt(r.ours?.rate)} | ${fmt(r['tus-server']?.rate)} | ${fmt(rb, 2)} | ${fmt(rt, 2)} | ${goals.join(', ')} ` +
        `| ${fmt(r['ours-plain']?.rate)} | ${fmt(ratio(r['ours-plain']?.rate, r.bare?.rate), 2)} ` +
        `| ${fmt(r['express-bare']?.rate)} | ${fmt(ratio(r['express-bare']?.rate, r.bare?.rate), 2)} | ${fmt(ratio(r.ours?.rate, r['express-bare']?.rate), 2)} |`,
    )
  }
  out.push('', '**Peak RSS of the server process (VmHWM, MB)**', '')
  out.push('| workload | bare | tus-middleware | @tus/server | ours − bare | target |', '|---|---:|---:|---:|---:|---|')
  const rssRows = [...rows.map(([k, l]) => [k, l]), ['huge', `one ${size(cfg.huge.size)} PATCH (run once)`]]
  for (const [key, label] of rssRows) {
    const r = m[key] ?? {}
    const d = r.ours?.rss !== undefined && r.bare?.rss !== undefined ? r.ours.rss - r.bare.rss : undefined
    const goal = key === 'big' || key === 'huge' ? `≤ bare + 30${mark(d === undefined ? undefined : d <= 30)}` : ''
    out.push(`| ${label} | ${fmt(r.bare?.rss)} | ${fmt(r.ours?.rss)} | ${fmt(r['tus-server']?.rss)} | ${fmt(d)} | ${goal} |`)
  }
  if (rows.some(([key]) => m[key]?.['ours-metrics'])) {
    // --metrics: the same server with Prometheus metrics on, measured in the same rounds.
    out.push('', '**Cost of the `metrics` option (tus-middleware, Prometheus metrics on vs off)**', '')
    out.push(
      '| workload | unit | metrics off | metrics on | on / off | target | server CPU µs/op, off | on | on / off |',
      '|---|---|---:|---:|---:|---|---:|---:|---:|',
    )
    for (const [key, label, unit] of rows) {
      const r = m[key] ?? {}
      const on = r['ours-metrics']
      if (!on) continue
      const q = ratio(on.rate, r.ours?.rate)
      const us = (x) => (x === undefined ? undefined : x * 1e6)
      out.push(
        `| ${label} | ${unit} | ${fmt(r.ours?.rate)} | ${fmt(on.rate)} | ${fmt(q, 3)} | ≥ 0.95${mark(q === undefined ? undefined : q >= 0.95)} ` +
          `| ${fmt(us(r.ours?.cpuPerOp))} | ${fmt(us(on.cpuPerOp))} | ${fmt(ratio(on.cpuPerOp, r.ours?.cpuPerOp), 3)} |`,
      )
    }
  }
  out.push('', `**Checksum cost on one ${size(cfg.checksum.size)} PATCH (tus-middleware)**`, '')
  out.push('| algorithm | MiB/s | vs no checksum | vs bare (one big PATCH) | peak RSS MB |', '|---|---:|---:|---:|---:|')
  const base = m['checksum-none']?.ours?.rate
  for (const alg of ['none', ...ALGORITHMS]) {
    const c = m[`checksum-${alg}`]?.ours
    if (!c || c.skipped) {
      out.push(`| ${alg} | skipped: ${c?.skipped ?? 'not run'} | | | |`)
      continue
    }
    const bare = cfg.checksum.size === cfg.big.size ? ratio(c.rate, m.big?.bare?.rate) : undefined
    out.push(`| ${alg} | ${fmt(c.rate)} | ${fmt(ratio(c.rate, base), 2)} | ${fmt(bare, 2)} | ${fmt(c.rss)} |`)
  }
  return out
}
