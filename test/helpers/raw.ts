/**
 * Byte-level HTTP for fault injection: a raw TCP client that writes exactly what a test says (headers, part of a
 * body, then a stall or a reset), and small fetch helpers for the ordinary requests around it.
 */
import { connect, type Socket } from 'node:net'
import { OCTET, TUS } from './tus.js'

export interface RawResponse {
  status: number
  headers: Record<string, string>
  body: string
}

export interface RawClient {
  socket: Socket
  /** Writes bytes; resolves once they are handed to the OS. */
  write(data: Buffer | string): Promise<void>
  /** The first response on the connection (resolves when its headers and body are in, or the socket ends). */
  response: Promise<RawResponse>
  /** Everything received, for requests that may get several answers. */
  received(): string
  /** Resolves when the socket closes. */
  closed: Promise<void>
}

export function parseResponse(text: string): RawResponse | undefined {
  const end = text.indexOf('\r\n\r\n')
  if (end === -1) return undefined
  const [statusLine, ...lines] = text.slice(0, end).split('\r\n')
  const headers: Record<string, string> = {}
  for (const line of lines) {
    const colon = line.indexOf(':')
    headers[line.slice(0, colon).trim().toLowerCase()] = line.slice(colon + 1).trim()
  }
  const body = text.slice(end + 4)
  const length = headers['content-length'] === undefined ? 0 : Number(headers['content-length'])
  if (body.length < length) return undefined
  return { status: Number(statusLine.split(' ')[1]), headers, body: body.slice(0, length) }
}

export function rawClient(origin: string): Promise<RawClient> {
  const { hostname, port } = new URL(origin)
  return new Promise((resolveClient, rejectClient) => {
    const socket = connect(Number(port), hostname)
    let text = ''
    let settle: (r: RawResponse) => void
    let fail: (e: Error) => void
    const response = new Promise<RawResponse>((res, rej) => ((settle = res), (fail = rej)))
    response.catch(() => {})
    const closed = new Promise<void>((res) => socket.once('close', () => res()))
    socket.on('data', (chunk) => {
      text += chunk.toString('latin1')
      const parsed = parseResponse(text)
      if (parsed) settle(parsed)
    })
    socket.on('error', () => {})
    socket.once('close', () => fail(new Error(`connection closed without a response: ${JSON.stringify(text)}`)))
    socket.once('connect', () =>
      resolveClient({
        socket,
        response,
        closed,
        received: () => text,
        write: (data) => new Promise((res, rej) => socket.write(data, (err) => (err ? rej(err) : res()))),
      }),
    )
    socket.once('error', rejectClient)
  })
}

/** The request line and headers of a PATCH, ready to be followed by (part of) its body. */
export function patchHead(path: string, offset: number, contentLength: number, extra: Record<string, string> = {}): string {
  const headers: Record<string, string | number> = {
    Host: 'localhost',
    'Tus-Resumable': '1.0.0',
    'Content-Type': 'application/offset+octet-stream',
    'Upload-Offset': offset,
    'Content-Length': contentLength,
    ...extra,
  }
  return `PATCH ${path} HTTP/1.1\r\n${Object.entries(headers).map(([k, v]) => `${k}: ${v}\r\n`).join('')}\r\n`
}

/** Creates an upload; returns its absolute URL. */
export async function createUpload(collection: string, length: number | undefined, headers: Record<string, string> = {}): Promise<string> {
  const res = await fetch(collection, {
    method: 'POST',
    headers: { ...TUS, ...(length === undefined ? { 'Upload-Defer-Length': '1' } : { 'Upload-Length': String(length) }), ...headers },
  })
  if (res.status !== 201) throw new Error(`POST answered ${res.status}: ${await res.text()}`)
  return new URL(res.headers.get('location')!, collection).href
}

export async function headOffset(url: string): Promise<{ status: number; offset: number }> {
  const res = await fetch(url, { method: 'HEAD', headers: TUS })
  return { status: res.status, offset: Number(res.headers.get('upload-offset')) }
}

export async function patch(url: string, offset: number, body: Buffer): Promise<Response> {
  const res = await fetch(url, {
    method: 'PATCH',
    headers: { ...TUS, ...OCTET, 'Upload-Offset': String(offset) },
    body,
  })
  await res.arrayBuffer()
  return res
}

export const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms))

/** Waits (event loop turns, no busy loop) until `check` holds; throws after `ms`. */
export async function until(check: () => boolean | Promise<boolean>, ms = 5000, what = 'condition'): Promise<void> {
  const deadline = Date.now() + ms
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`)
    await sleep(5)
  }
}
