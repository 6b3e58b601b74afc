// The `tus-middleware/redis` entry loads from ESM and CommonJS apps alike (npm test builds dist/ first).
import { execFileSync } from 'node:child_process'
import { existsSync } from 'node:fs'
import { fileURLToPath } from 'node:url'
import { describe, expect, it } from 'vitest'

const root = fileURLToPath(new URL('../..', import.meta.url))

// Makes a locker (no connection until it is used) and reports what the entry exports.
const report = `
const locker = new mod.RedisLocker({ url: 'redis://127.0.0.1:1' })
console.log(JSON.stringify({ names: Object.keys(mod).sort(), lock: typeof locker.lock, close: typeof locker.close }))`

const run = (args: string[]) => JSON.parse(execFileSync(process.execPath, args, { cwd: root, encoding: 'utf8' }))

describe('package entry tus-middleware/redis (built dist)', () => {
  it('is built for both module systems, with type declarations', () => {
    for (const dir of ['esm', 'cjs']) {
      expect(existsSync(`${root}/dist/${dir}/redis/index.js`)).toBe(true)
      expect(existsSync(`${root}/dist/${dir}/redis/index.d.ts`)).toBe(true)
    }
  })

  it('works from CommonJS via require() and from ESM via import(), with the same exports', () => {
    const cjs = run(['-e', `const mod = require('tus-middleware/redis')\n${report}`])
    const esm = run(['--input-type=module', '-e', `const mod = await import('tus-middleware/redis')\n${report}`])
    expect(cjs).toEqual({ names: ['MISSING_REDIS', 'RedisLocker', 'loadRedis'], lock: 'function', close: 'function' })
    expect(esm).toEqual(cjs)
  })

  it('loads node-redis from the CommonJS build too', () => {
    const out = run(['-e', `require('tus-middleware/redis').loadRedis().then((m) => console.log(JSON.stringify(typeof m.createClient)))`])
    expect(out).toBe('function')
  })

  it('loads node-redis only when a RedisLocker first connects', () => {
    const out = run(['-e', `require('tus-middleware'); require('tus-middleware/redis'); console.log(JSON.stringify(Object.keys(require.cache).some((p) => /node_modules[\\\\/](redis|@redis)[\\\\/]/.test(p))))`])
    expect(out).toBe(false)
  })
})
