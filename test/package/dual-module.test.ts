// The built package loads from ESM and CommonJS apps alike (npm test builds dist/ first).
import { execFileSync } from 'node:child_process'
import { existsSync } from 'node:fs'
import { fileURLToPath } from 'node:url'
import { describe, expect, it } from 'vitest'

const root = fileURLToPath(new URL('../..', import.meta.url))
const built = existsSync(`${root}/dist/esm/index.js`) && existsSync(`${root}/dist/cjs/index.js`)

// Each script creates an upload through the package resolved by name, as an app would.
const script = (load: string) => `
${load}
const http = require('node:http')
const uploads = tus({ store: new MemoryStore() })
const server = http.createServer((req, res) => uploads(req, res)).listen(0, '127.0.0.1', async () => {
  const url = 'http://127.0.0.1:' + server.address().port + '/'
  const r = await fetch(url, { method: 'POST', headers: { 'Tus-Resumable': '1.0.0', 'Upload-Length': '3' } })
  console.log(JSON.stringify({ status: r.status, error: typeof TusError, names: Object.keys(mod).sort() }))
  server.close()
})`

const run = (args: string[]) => JSON.parse(execFileSync(process.execPath, args, { cwd: root, encoding: 'utf8' }))

describe('package entry points (built dist)', () => {
  it('is built (npm test runs the build first)', () => expect(built).toBe(true))

  it('works from CommonJS via require()', () => {
    const out = run(['-e', script(`const mod = require('tus-middleware'); const { tus, MemoryStore, TusError } = mod`)])
    expect(out.status).toBe(201)
    expect(out.error).toBe('function')
    expect(out.names).toEqual(expect.arrayContaining(['tus', 'FileStore', 'MemoryStore', 'TusError', 'ERRORS']))
  })

  it('works from ESM via import, with the same exports', () => {
    const esm = script(`const mod = await import('tus-middleware'); const { tus, MemoryStore, TusError } = mod`)
      .replace("const http = require('node:http')", "const http = await import('node:http')")
    const out = run(['--input-type=module', '-e', esm])
    const cjs = run(['-e', script(`const mod = require('tus-middleware'); const { tus, MemoryStore, TusError } = mod`)])
    expect(out.status).toBe(201)
    expect(out.names).toEqual(cjs.names)
  })

  it('ships type declarations for both', () => {
    expect(existsSync(`${root}/dist/esm/index.d.ts`)).toBe(true)
    expect(existsSync(`${root}/dist/cjs/index.d.ts`)).toBe(true)
  })
})
