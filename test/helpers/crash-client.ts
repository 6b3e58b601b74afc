/**
 * The client side of the SIGKILL crash tests: requests over node:http that tell a request cut by a kill
 * (the connection reset mid-request) from one refused because the server was already gone, and the
 * bookkeeping of what the server acknowledged, which no restart may take back.
 */
import { request } from 'node:http'
import { open } from 'node:fs/promises'
import { join } from 'node:path'
import { expect } from 'vitest'
import { sha256 } from './bytes.js'
import { TUS } from './tus.js'

export interface Reply {
  status: number
  headers: Record<string, string | string[] | undefined>
  body: Buffer
}

export interface SendOptions {
  method: string
  headers?: Record<string, string | number>
  /** Body pieces, written one by one; without a Content-Length header they go chunked. */
  pieces?: Buffer[]
  /** Trailers (chunked bodies only). */
  trailers?: Record<string, string>
}

/** Thrown when a request failed because the server died under it or was not there. */
export class ConnectionError extends Error {
  /** The connection was refused: the request never reached a server (not a request cut mid-way). */
  readonly refused: boolean
  constructor(cause: NodeJS.ErrnoException) {
    super(`${cause.code ?? ''} ${cause.message}`)
    this.name = 'ConnectionError'
    this.refused = cause.code === 'ECONNREFUSED'
  }
}

export function send(url: string, options: SendOptions): Promise<Reply> {
  return new Promise((resolve, reject) => {
    const req = request(url, { method: options.method, headers: { ...TUS, ...options.headers }, agent: false })
    req.on('error', (err) => reject(new ConnectionError(err)))
    req.on('response', (res) => {
      const chunks: Buffer[] = []
      res.on('data', (c: Buffer) => chunks.push(c))
      res.on('error', (err) => reject(new ConnectionError(err)))
      res.on('end', () => resolve({ status: res.statusCode!, headers: res.headers, body: Buffer.concat(chunks) }))
    })
    for (const piece of options.pieces ?? []) req.write(piece)
    if (options.trailers) req.addTrailers(options.trailers)
    req.end()
  })
}

export const header = (reply: Reply, name: string): string | undefined => {
  const value = reply.headers[name.toLowerCase()]
  return Array.isArray(value) ? value[0] : value
}

/** An upload as the client knows it. */
export interface Tracked {
  data: Buffer
  /** The upload's path, once the server answered its creation. */
  path?: string
  /** The highest offset a 201/204 response acknowledged (Upload-Offset): no restart may go below it. */
  acked: number
  complete: boolean
}

/** Records an acknowledged offset from a successful response. */
export function acknowledge(upload: Tracked, reply: Reply): number {
  const offset = Number(header(reply, 'upload-offset'))
  expect(Number.isSafeInteger(offset), `Upload-Offset in a ${reply.status}`).toBe(true)
  upload.acked = Math.max(upload.acked, offset)
  return offset
}

/** The first `length` bytes of a file. */
export async function readPrefix(path: string, length: number): Promise<Buffer> {
  const fh = await open(path, 'r')
  try {
    const buf = Buffer.alloc(length)
    let done = 0
    while (done < length) {
      const { bytesRead } = await fh.read(buf, done, length - done, done)
      if (bytesRead === 0) break
      done += bytesRead
    }
    return buf.subarray(0, done)
  } finally {
    await fh.close()
  }
}

/**
 * HEAD agrees with the client's record of the upload: 200, an offset never below what was acknowledged, and
 * the stored bytes up to that offset are the source's prefix (past it a staged tail may lie: not read).
 */
export async function verifyUpload(origin: string, directory: string, upload: Tracked): Promise<number> {
  const res = await send(`${origin}${upload.path}`, { method: 'HEAD' })
  expect(res.status, `HEAD ${upload.path}`).toBe(200)
  expect(header(res, 'upload-length')).toBe(String(upload.data.length))
  const offset = Number(header(res, 'upload-offset'))
  expect(offset, `offset of ${upload.path} against the acknowledged one`).toBeGreaterThanOrEqual(upload.acked)
  expect(offset).toBeLessThanOrEqual(upload.data.length)
  const stored = await readPrefix(join(directory, `${upload.path!.split('/').pop()}.bin`), offset)
  expect(stored.length, `bytes on disk for ${upload.path}`).toBe(offset)
  expect(sha256(stored)).toBe(sha256(upload.data.subarray(0, offset)))
  return offset
}

/** Counts per kind of request: cut by a kill, or refused because the server was already gone. */
export class CutCounter {
  readonly cut: Record<string, number> = {}
  readonly refused: Record<string, number> = {}
  readonly sent: Record<string, number> = {}

  started(kind: string): void {
    this.sent[kind] = (this.sent[kind] ?? 0) + 1
  }

  /** Rethrows anything that is not a connection failure (assertions above all). */
  failed(kind: string, err: unknown): void {
    if (!(err instanceof ConnectionError)) throw err
    const table = err.refused ? this.refused : this.cut
    table[kind] = (table[kind] ?? 0) + 1
  }

  total(): number {
    return Object.values(this.cut).reduce((a, b) => a + b, 0)
  }

  summary(): string {
    return Object.keys(this.sent)
      .sort()
      .map((kind) => `${kind} ${this.cut[kind] ?? 0}/${this.sent[kind]}`)
      .join(', ')
  }
}
