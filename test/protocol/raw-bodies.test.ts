// Byte-level cases over raw sockets: chunked bodies, bodies past the length, clients that vanish mid-body.
import { connect } from 'node:net'
import { afterEach, beforeEach, describe, expect, it } from 'vitest'
import { FileStore } from 'tus-middleware'
import { randomData, sha256 } from '../helpers/bytes.js'
import { parseResponse } from '../helpers/raw.js'
import { startServer, tempDir, type TestServer } from '../helpers/server.js'

let server: TestServer
let dir: Awaited<ReturnType<typeof tempDir>>

beforeEach(async () => {
  dir = await tempDir()
  server = await startServer({ store: new FileStore({ directory: dir.path }) })
})
afterEach(async () => {
  await server.close()
  await dir.remove()
})

async function create(length: number): Promise<string> {
  const res = await fetch(server.url, { method: 'POST', headers: { 'Tus-Resumable': '1.0.0', 'Upload-Length': String(length) } })
  expect(res.status).toBe(201)
  return new URL(res.headers.get('location')!).pathname
}

async function head(path: string): Promise<number> {
  const res = await fetch(server.origin + path, { method: 'HEAD', headers: { 'Tus-Resumable': '1.0.0' } })
  return Number(res.headers.get('upload-offset'))
}

const stored = async (path: string) => Buffer.from(await (await fetch(server.origin + path)).arrayBuffer())

/**
 * Sends a raw request and resolves with the response status and text as soon as a whole response is in (or when
 * the socket closes without one), never waiting for the server's keep-alive timeout.
 */
function raw(head: string, body: Buffer[] = [], { end = true } = {}): Promise<{ status: number; text: string }> {
  return new Promise((resolve, reject) => {
    const { port } = new URL(server.origin)
    const socket = connect(Number(port), '127.0.0.1', () => {
      socket.write(head)
      for (const part of body) socket.write(part)
      if (!end) setTimeout(() => socket.destroy(), 150)
    })
    let text = ''
    const done = () => resolve({ status: Number(text.split(' ')[1] ?? 0), text })
    socket.on('data', (d) => {
      text += d.toString('latin1')
      if (parseResponse(text)) {
        done()
        socket.destroy()
      }
    })
    socket.on('close', done)
    socket.on('error', reject)
  })
}

const chunk = (data: Buffer) => Buffer.concat([Buffer.from(`${data.length.toString(16)}\r\n`), data, Buffer.from('\r\n')])

describe('request bodies on the wire', () => {
  it('accepts a chunked PATCH body without Content-Length', async () => {
    const data = randomData(300_000)
    const path = await create(data.length)
    const res = await raw(
      `PATCH ${path} HTTP/1.1\r\nHost: x\r\nTus-Resumable: 1.0.0\r\nUpload-Offset: 0\r\nConnection: close\r\n` +
        'Content-Type: application/offset+octet-stream\r\nTransfer-Encoding: chunked\r\n\r\n',
      [chunk(data.subarray(0, 100_000)), chunk(data.subarray(100_000)), Buffer.from('0\r\n\r\n')],
    )
    expect(res.status).toBe(204)
    expect(res.text).toMatch(/Upload-Offset: 300000/i)
    expect(sha256(await stored(path))).toBe(sha256(data))
  })

  it('refuses a chunked body that runs past Upload-Length with 413 and keeps the upload as it was', async () => {
    const path = await create(10)
    const res = await raw(
      `PATCH ${path} HTTP/1.1\r\nHost: x\r\nTus-Resumable: 1.0.0\r\nUpload-Offset: 0\r\nConnection: close\r\n` +
        'Content-Type: application/offset+octet-stream\r\nTransfer-Encoding: chunked\r\n\r\n',
      [chunk(Buffer.from('0123456')), chunk(Buffer.from('789abc')), Buffer.from('0\r\n\r\n')],
    )
    expect(res.status).toBe(413)
    expect(await head(path)).toBe(0)
    expect((await stored(path)).length).toBe(0)
  })

  it('refuses a Content-Length past Upload-Length before reading the body', async () => {
    const path = await create(4)
    const res = await raw(
      `PATCH ${path} HTTP/1.1\r\nHost: x\r\nTus-Resumable: 1.0.0\r\nUpload-Offset: 0\r\nContent-Length: 5\r\n` +
        'Content-Type: application/offset+octet-stream\r\n\r\n',
      [Buffer.from('hello')],
    )
    expect(res.status).toBe(413)
    expect(await head(path)).toBe(0)
  })

  it('keeps every byte of a body whose client vanished, and resumes from there', async () => {
    const data = randomData(1_000_000)
    const path = await create(data.length)
    const sent = data.subarray(0, 400_000)
    await raw(
      `PATCH ${path} HTTP/1.1\r\nHost: x\r\nTus-Resumable: 1.0.0\r\nUpload-Offset: 0\r\nContent-Length: ${data.length}\r\n` +
        'Content-Type: application/offset+octet-stream\r\n\r\n',
      [sent],
      { end: false },
    )
    // The lock is free again and the offset counts exactly what arrived.
    await expect.poll(() => head(path), { timeout: 5000 }).toBe(sent.length)
    expect(sha256(await stored(path))).toBe(sha256(sent))
    const rest = await fetch(server.origin + path, {
      method: 'PATCH',
      headers: { 'Tus-Resumable': '1.0.0', 'Upload-Offset': String(sent.length), 'Content-Type': 'application/offset+octet-stream' },
      body: data.subarray(sent.length),
    })
    expect(rest.status).toBe(204)
    expect(sha256(await stored(path))).toBe(sha256(data))
  })
})
