/** prom-client is an optional peer dependency: loaded only for the `metrics` option, with a clear error when missing. */
import { Counter, Registry } from 'prom-client'
import { describe, expect, it } from 'vitest'
import { loadPromClient } from '../../lib/metrics/load-prom-client.js'

describe('loading prom-client', () => {
  it('names the missing package and how to install it', () => {
    expect(() => loadPromClient('tus-middleware-no-such-package')).toThrow(
      'tus(): option "metrics" needs the tus-middleware-no-such-package package, which is not installed: npm install tus-middleware-no-such-package',
    )
  })

  it('refuses a module that is not prom-client', () => {
    expect(() => loadPromClient('node:fs')).toThrow(/node:fs has no Counter/)
  })

  it('loads the same prom-client the app uses, so metrics land on its Registry', () => {
    const loaded = loadPromClient()
    expect(loaded.Counter).toBe(Counter)
    const registry = new Registry()
    new loaded.Counter({ name: 'probe_total', help: 'x', registers: [registry] })
    expect(registry.getSingleMetric('probe_total')).toBeDefined()
  })
})
