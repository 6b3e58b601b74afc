// The server process is SIGKILLed in the middle of a PATCH; restarted on the same directory, it reports an
// offset that counts only bytes really stored, and the upload resumes to identical bytes.
import { request } from 'node:http'
import { afterEach, describe, expect, it } from 'vitest'
import { randomData, sha256 } from '../helpers/bytes.js'
import { startChildServer, type ChildServer } from '../helpers/child-server.js'
import { tempDir } from '../helpers/server.js'

const TUS = { 'Tus-Resumable': '1.0.0' }
let server: ChildServer | undefined
let dir: Awaited<ReturnType<typeof tempDir>> | undefined

afterEach(async () => {
  await server?.kill()
  await dir?.remove()
})

/** Streams `data` as one PATCH body and resolves once `killAfter` bytes are written (the request stays open). */
function patchUntil(url: string, data: Buffer, killAfter: number): Promise<void> {
  return new Promise((resolve) => {
    const req = request(url, {
      method: 'PATCH',
      headers: { ...TUS, 'Upload-Offset': '0', 'Content-Type': 'application/offset+octet-stream', 'Content-Length': data.length },
    })
    req.on('error', () => {}) // the server dies mid-request
    let sent = 0
    const step = 256 * 1024
    const pump = () => {
      while (sent < killAfter) {
        const ok = req.write(data.subarray(sent, sent + step))
        sent += step
        if (!ok) return void req.once('drain', pump)
      }
      resolve()
    }
    pump()
  })
}

describe('crash in the middle of a PATCH', () => {
  it('restarts with a correct offset and finishes with identical bytes', async () => {
    dir = await tempDir('tus-crash-')
    const data = randomData(32 * 1024 * 1024)
    server = await startChildServer(dir.path)
    const created = await fetch(server.url, { method: 'POST', headers: { ...TUS, 'Upload-Length': String(data.length) } })
    expect(created.status).toBe(201)
    const path = new URL(created.headers.get('location')!).pathname

    await patchUntil(server.origin + path, data, 12 * 1024 * 1024)
    await new Promise((r) => setTimeout(r, 100)) // let the server write some of it
    await server.kill()

    server = await startChildServer(dir.path)
    const head = await fetch(server.origin + path, { method: 'HEAD', headers: TUS })
    expect(head.status).toBe(200)
    const offset = Number(head.headers.get('upload-offset'))
    expect(offset).toBeGreaterThan(0)
    expect(offset).toBeLessThanOrEqual(12 * 1024 * 1024)
    // Every byte the offset claims is on disk and right.
    const prefix = Buffer.from(await (await fetch(server.origin + path)).arrayBuffer())
    expect(prefix.length).toBe(offset)
    expect(sha256(prefix)).toBe(sha256(data.subarray(0, offset)))

    const rest = await fetch(server.origin + path, {
      method: 'PATCH',
      headers: { ...TUS, 'Upload-Offset': String(offset), 'Content-Type': 'application/offset+octet-stream' },
      body: data.subarray(offset),
    })
    expect(rest.status).toBe(204)
    expect(rest.headers.get('upload-offset')).toBe(String(data.length))
    const all = Buffer.from(await (await fetch(server.origin + path)).arrayBuffer())
    expect(sha256(all)).toBe(sha256(data))
  })
})
