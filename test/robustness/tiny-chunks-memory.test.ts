/**
 * Memory with tiny chunks: a PATCH body sent as a million 1-byte HTTP chunks must not cost the server more
 * memory than node:http itself needs to drain such a body. (A body queue that counted payload bytes only would
 * queue a million Buffer views, each holding on to the socket read buffer it was cut from: hundreds of MiB.)
 * Both servers run in child processes that sample their own RSS (test/fixtures/memory-server.mjs).
 */
import { spawn, type ChildProcess } from 'node:child_process'
import { existsSync } from 'node:fs'
import { readFile } from 'node:fs/promises'
import { connect } from 'node:net'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { afterAll, beforeAll, expect, it } from 'vitest'
import { randomData, sha256 } from '../helpers/bytes.js'
import { parseResponse } from '../helpers/raw.js'
import { tempDir } from '../helpers/server.js'
import { TUS } from '../helpers/tus.js'

const DIST = fileURLToPath(new URL('../../dist/esm/index.js', import.meta.url))
const SCRIPT = fileURLToPath(new URL('../fixtures/memory-server.mjs', import.meta.url))
const N = 1_000_000
/** How much more the tus server's RSS may grow than the bare server's. */
const SLACK = 16 * 1024 * 1024
const MiB = (bytes: number): string => `${(bytes / 1024 / 1024).toFixed(1)} MiB`

const children: ChildProcess[] = []
let dir: Awaited<ReturnType<typeof tempDir>>
beforeAll(async () => {
  dir = await tempDir('tus-tiny-chunks-')
})
afterAll(async () => {
  for (const child of children) child.kill('SIGKILL')
  await dir.remove()
})

function startServer(...args: string[]): Promise<string> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ['--expose-gc', SCRIPT, ...args], { stdio: ['ignore', 'pipe', 'inherit'] })
    children.push(child)
    let out = ''
    child.once('error', reject)
    child.once('exit', (code) => reject(new Error(`memory server exited with ${code}`)))
    child.stdout!.on('data', (d) => {
      out += d
      const match = /listening (\d+)/.exec(out)
      if (match) resolve(`http://127.0.0.1:${match[1]}`)
    })
  })
}

/** The body as raw chunked encoding: one chunk per byte of `data`, then the last chunk. */
function oneByteChunks(data: Buffer): Buffer {
  const out = Buffer.alloc(data.length * 6 + 5)
  for (let i = 0; i < data.length; i++) {
    const at = i * 6
    out[at] = 0x31 // "1"
    out[at + 1] = 0x0d
    out[at + 2] = 0x0a
    out[at + 3] = data[i]
    out[at + 4] = 0x0d
    out[at + 5] = 0x0a
  }
  out.write('0\r\n\r\n', data.length * 6, 'latin1')
  return out
}

/** Sends a PATCH with `head`'s headers and the chunked `body` in 64 KiB writes, respecting backpressure. */
function sendRaw(origin: string, path: string, headers: Record<string, string>, body: Buffer): Promise<number> {
  const { hostname, port } = new URL(origin)
  return new Promise((resolve, reject) => {
    const socket = connect(Number(port), hostname)
    let text = ''
    socket.on('data', (d) => {
      text += d.toString('latin1')
      const res = parseResponse(text)
      if (res) {
        socket.destroy()
        resolve(res.status)
      }
    })
    socket.on('error', reject)
    socket.on('close', () => reject(new Error(`closed without a response: ${JSON.stringify(text)}`)))
    socket.once('connect', async () => {
      const lines = Object.entries({ Host: 'localhost', 'Transfer-Encoding': 'chunked', ...headers }).map(([k, v]) => `${k}: ${v}\r\n`)
      socket.write(`PATCH ${path} HTTP/1.1\r\n${lines.join('')}\r\n`)
      for (let at = 0; at < body.length; at += 64 * 1024) {
        if (!socket.write(body.subarray(at, at + 64 * 1024))) await new Promise((r) => socket.once('drain', r))
      }
    })
  })
}

async function peak(origin: string): Promise<{ growth: number; baseline: number; peak: number }> {
  return (await (await fetch(`${origin}/peak`)).json()) as { growth: number; baseline: number; peak: number }
}

it('a million 1-byte chunks cost the tus server no more memory than node:http draining them', { timeout: 120_000 }, async () => {
  expect(existsSync(DIST), 'the package must be built (npm run build)').toBe(true)
  const data = randomData(N)
  const body = oneByteChunks(data)

  const bare = await startServer('bare')
  await fetch(`${bare}/reset`)
  expect(await sendRaw(bare, '/drain', {}, body)).toBe(204)
  const bareGrowth = await peak(bare)

  const tus = await startServer('tus', dir.path)
  const created = await fetch(`${tus}/files`, { method: 'POST', headers: { ...TUS, 'Upload-Length': String(N) } })
  expect(created.status).toBe(201)
  const path = new URL(created.headers.get('location')!).pathname
  await fetch(`${tus}/reset`)
  const status = await sendRaw(tus, path, { ...TUS, 'Upload-Offset': '0', 'Content-Type': 'application/offset+octet-stream' }, body)
  const tusGrowth = await peak(tus)
  expect(status).toBe(204)
  const head = await fetch(`${tus}${path}`, { method: 'HEAD', headers: TUS })
  expect(head.headers.get('upload-offset')).toBe(String(N))
  expect(sha256(await readFile(join(dir.path, `${path.split('/').pop()}.bin`)))).toBe(sha256(data))

  console.log(`1-byte chunks x ${N}: RSS growth bare node:http ${MiB(bareGrowth.growth)}, tus server ${MiB(tusGrowth.growth)}`)
  expect(tusGrowth.growth).toBeLessThanOrEqual(bareGrowth.growth + SLACK)
})
