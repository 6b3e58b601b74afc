// An S3Store server SIGKILLed at random moments between its S3 calls while PATCHes arrive: after every restart
// HEAD reports an offset no lower than any offset a response acknowledged, and the upload ends byte-identical.
import { spawn, type ChildProcess } from 'node:child_process'
import { randomBytes, randomInt } from 'node:crypto'
import { fileURLToPath } from 'node:url'
import { afterEach, describe, expect, it } from 'vitest'
import { sha256 } from '../helpers/bytes.js'
import { OCTET, TUS } from '../helpers/tus.js'
import { useRgw } from './rgw.js'

const MiB = 1024 * 1024
const script = fileURLToPath(new URL('../fixtures/s3-server.mjs', import.meta.url))
const { rgw, skip } = await useRgw()
let child: ChildProcess | undefined

afterEach(() => {
  if (child && child.exitCode === null && child.signalCode === null) child.kill('SIGKILL')
})

function start(prefix: string, killAt?: number, when?: 'before' | 'after'): Promise<string> {
  const { accessKeyId, secretAccessKey } = rgw!.config.credentials as { accessKeyId: string; secretAccessKey: string }
  const env = { ...process.env, S3_ENDPOINT: rgw!.endpoint, S3_BUCKET: rgw!.bucket, S3_ACCESS_KEY: accessKeyId, S3_SECRET_KEY: secretAccessKey }
  const args = [script, prefix, ...(killAt === undefined ? [] : [String(killAt), when!])]
  return new Promise((resolve, reject) => {
    const proc = spawn(process.execPath, args, { env, stdio: ['ignore', 'pipe', 'inherit'] })
    child = proc
    let out = ''
    proc.once('exit', (code) => reject(new Error(`server exited early with ${code}`)))
    proc.stdout!.on('data', (d) => {
      out += d
      const match = /listening (\d+)/.exec(out)
      if (!match) return
      proc.removeAllListeners('exit')
      resolve(`http://127.0.0.1:${match[1]}/files`)
    })
  })
}

const exited = (proc: ChildProcess): Promise<void> =>
  proc.exitCode !== null || proc.signalCode !== null ? Promise.resolve() : new Promise((r) => proc.once('exit', () => r()))

describe.skipIf(!rgw)(`S3Store killed between S3 calls${skip ? ` (${skip})` : ''}`, () => {
  it('loses no acknowledged byte and ends with identical bytes', async () => {
    const prefix = `crash-${randomBytes(4).toString('hex')}/`
    const data = randomBytes(24 * MiB + 4321)
    let base = await start(prefix)
    const created = await fetch(base, { method: 'POST', headers: { ...TUS, 'Upload-Length': String(data.length) } })
    expect(created.status).toBe(201)
    const path = new URL(created.headers.get('location')!).pathname.replace(/^\/files/, '')
    child!.kill('SIGKILL')
    await exited(child!)

    let acknowledged = 0
    let kills = 0
    for (let round = 0; round < 40 && acknowledged < data.length; round++) {
      // Each server dies at a random one of its first S3 calls, before or after it, until the last rounds.
      const killAt = round < 12 ? randomInt(1, 7) : undefined
      base = await start(prefix, killAt, randomInt(2) ? 'before' : 'after')
      const head = await fetch(base + path, { method: 'HEAD', headers: TUS }).catch(() => undefined)
      if (!head) {
        kills++
        await exited(child!)
        continue
      }
      const offset = Number(head.headers.get('upload-offset'))
      expect(offset).toBeGreaterThanOrEqual(acknowledged)
      acknowledged = offset
      let at = offset
      while (at < data.length) {
        const size = Math.min(data.length - at, randomInt(1, 4 * MiB))
        const res = await fetch(base + path, {
          method: 'PATCH',
          headers: { ...TUS, ...OCTET, 'Upload-Offset': String(at) },
          body: data.subarray(at, at + size),
        }).catch(() => undefined)
        if (!res) break
        expect(res.status).toBe(204)
        at = Number(res.headers.get('upload-offset'))
        acknowledged = Math.max(acknowledged, at)
      }
      if (at === data.length) break
      kills++
      await exited(child!)
    }
    expect(kills).toBeGreaterThanOrEqual(3)
    if (child!.exitCode !== null || child!.signalCode !== null) base = await start(prefix)
    const head = await fetch(base + path, { method: 'HEAD', headers: TUS })
    expect(head.headers.get('upload-offset')).toBe(String(data.length))
    const got = Buffer.from(await (await fetch(base + path)).arrayBuffer())
    expect(got.length).toBe(data.length)
    expect(sha256(got)).toBe(sha256(data))
  }, 180_000)
})
