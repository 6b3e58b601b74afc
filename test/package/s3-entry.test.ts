// The `tus-middleware/s3` entry loads from ESM and CommonJS apps alike (npm test builds dist/ first).
import { execFileSync } from 'node:child_process'
import { existsSync } from 'node:fs'
import { fileURLToPath } from 'node:url'
import { describe, expect, it } from 'vitest'

const root = fileURLToPath(new URL('../..', import.meta.url))

// Makes a store (no request until it is used) and reports what the entry exports.
const report = `
const store = new mod.S3Store({ bucket: 'b', client: { region: 'us-east-1', endpoint: 'http://127.0.0.1:1', credentials: { accessKeyId: 'a', secretAccessKey: 'b' } } })
console.log(JSON.stringify({ names: Object.keys(mod).sort(), write: typeof store.write, send: typeof store.client.send, caps: store.capabilities }))`

const run = (args: string[]) => JSON.parse(execFileSync(process.execPath, ['--no-warnings', ...args], { cwd: root, encoding: 'utf8' }))

describe('package entry tus-middleware/s3 (built dist)', () => {
  it('is built for both module systems, with type declarations', () => {
    for (const dir of ['esm', 'cjs']) {
      expect(existsSync(`${root}/dist/${dir}/s3/index.js`)).toBe(true)
      expect(existsSync(`${root}/dist/${dir}/s3/index.d.ts`)).toBe(true)
    }
  })

  it('works from CommonJS via require() and from ESM via import(), with the same exports', () => {
    const cjs = run(['-e', `const mod = require('tus-middleware/s3')\n${report}`])
    const esm = run(['--input-type=module', '-e', `const mod = await import('tus-middleware/s3')\n${report}`])
    expect(cjs).toEqual({
      names: ['MISSING_S3', 'S3Store', 'S3_MAX_OBJECT_SIZE', 'S3_MAX_PARTS', 'S3_MAX_PART_SIZE', 'S3_MIN_PART_SIZE', 'loadS3'],
      write: 'function',
      send: 'function',
      caps: ['termination', 'read', 'concatenation', 'expiration'],
    })
    expect(esm).toEqual(cjs)
  })

  it('loads the AWS SDK only from the s3 entry', () => {
    const out = run(['-e', `require('tus-middleware'); console.log(JSON.stringify(Object.keys(require.cache).some((p) => /node_modules[\\\\/]@aws-sdk[\\\\/]/.test(p))))`])
    expect(out).toBe(false)
  })
})
