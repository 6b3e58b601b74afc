// The `metrics` option loads prom-client (an optional peer dependency) synchronously from both builds:
// dist/esm and dist/cjs (npm test builds dist/ first).
import { execFileSync } from 'node:child_process'
import { existsSync } from 'node:fs'
import { fileURLToPath } from 'node:url'
import { describe, expect, it } from 'vitest'

const root = fileURLToPath(new URL('../..', import.meta.url))
const built = existsSync(`${root}/dist/esm/index.js`) && existsSync(`${root}/dist/cjs/index.js`)

// Each script creates an upload through the package resolved by name, then prints what the registry shows.
const script = (load: string) => `
${load}
const http = require('node:http')
const registry = new Registry()
const uploads = tus({ store: new MemoryStore(), metrics: registry })
const server = http.createServer((req, res) => uploads(req, res)).listen(0, '127.0.0.1', async () => {
  const url = 'http://127.0.0.1:' + server.address().port + '/'
  const r = await fetch(url, { method: 'POST', headers: { 'Tus-Resumable': '1.0.0', 'Upload-Length': '3' } })
  const text = await registry.metrics()
  console.log(JSON.stringify({ status: r.status, created: /^tus_uploads_created_total 1$/m.test(text) }))
  server.close()
})`

const run = (args: string[]) => JSON.parse(execFileSync(process.execPath, args, { cwd: root, encoding: 'utf8' }))

describe('metrics from the built package', () => {
  it('is built (npm test runs the build first)', () => expect(built).toBe(true))

  it('works from CommonJS via require()', () => {
    const out = run(['-e', script(`const { tus, MemoryStore } = require('tus-middleware'); const { Registry } = require('prom-client')`)])
    expect(out).toEqual({ status: 201, created: true })
  })

  it('works from ESM via import', () => {
    const esm = script(`const { tus, MemoryStore } = await import('tus-middleware'); const { Registry } = await import('prom-client')`)
      .replace("const http = require('node:http')", "const http = await import('node:http')")
    expect(run(['--input-type=module', '-e', esm])).toEqual({ status: 201, created: true })
  })
})
