/**
 * A raw HTTP/1.1 client for the draft's exchanges: it sees every response on the connection, interim 104s
 * included, exactly as they arrive on the wire.
 */
import { connect, type Socket } from 'node:net'

export interface WireResponse {
  status: number
  reason: string
  headers: Record<string, string>
  body: string
}

/** Every complete response in `text`, interim ones first, in order; the rest is incomplete. */
export function parseAll(text: string): WireResponse[] {
  const out: WireResponse[] = []
  let rest = text
  for (;;) {
    const end = rest.indexOf('\r\n\r\n')
    if (end === -1) return out
    const [statusLine, ...lines] = rest.slice(0, end).split('\r\n')
    const headers: Record<string, string> = {}
    for (const line of lines) {
      const colon = line.indexOf(':')
      headers[line.slice(0, colon).trim().toLowerCase()] = line.slice(colon + 1).trim()
    }
    const [, status, ...reason] = statusLine.split(' ')
    const code = Number(status)
    const length = code < 200 || code === 204 || code === 304 ? 0 : Number(headers['content-length'] ?? 0)
    const body = rest.slice(end + 4)
    if (body.length < length) return out
    out.push({ status: code, reason: reason.join(' '), headers, body: body.slice(0, length) })
    rest = body.slice(length)
  }
}

export interface Wire {
  socket: Socket
  write(data: Buffer | string): Promise<void>
  /** Resolves with all responses received once one satisfies `until`. */
  waitFor(until: (r: WireResponse) => boolean, ms?: number): Promise<WireResponse[]>
  /** The final (non-1xx) response, with every interim one before it. */
  final(ms?: number): Promise<{ interim: WireResponse[]; response: WireResponse }>
  text(): string
  closed: Promise<void>
}

export function wire(origin: string): Promise<Wire> {
  const { hostname, port } = new URL(origin)
  return new Promise((resolve, reject) => {
    const socket = connect(Number(port), hostname)
    let text = ''
    const waiters = new Set<() => void>()
    socket.on('data', (chunk) => {
      text += chunk.toString('latin1')
      for (const w of waiters) w()
    })
    socket.on('error', () => {})
    const closed = new Promise<void>((r) => socket.once('close', () => r()))
    const waitFor = (until: (r: WireResponse) => boolean, ms = 5000): Promise<WireResponse[]> =>
      new Promise((res, rej) => {
        const check = (): void => {
          const all = parseAll(text)
          if (all.some(until)) {
            waiters.delete(check)
            clearTimeout(timer)
            res(all)
          }
        }
        const timer = setTimeout(() => {
          waiters.delete(check)
          rej(new Error(`no such response; received ${JSON.stringify(text)}`))
        }, ms)
        waiters.add(check)
        check()
      })
    socket.once('connect', () =>
      resolve({
        socket,
        closed,
        text: () => text,
        write: (data) => new Promise((res, rej) => socket.write(data, (err) => (err ? rej(err) : res()))),
        waitFor,
        final: async (ms) => {
          const all = await waitFor((r) => r.status >= 200, ms)
          const at = all.findIndex((r) => r.status >= 200)
          return { interim: all.slice(0, at), response: all[at] }
        },
      }),
    )
    socket.once('error', reject)
  })
}

/** A request head. */
export function head(method: string, path: string, headers: Record<string, string | number>): string {
  return `${method} ${path} HTTP/1.1\r\n${Object.entries({ Host: 'localhost', ...headers }).map(([k, v]) => `${k}: ${v}\r\n`).join('')}\r\n`
}

/** One whole request on a fresh connection; resolves with interim and final responses. */
export async function exchange(origin: string, method: string, path: string, headers: Record<string, string | number>, body?: Buffer) {
  const w = await wire(origin)
  const all = { ...headers }
  if (body !== undefined || ['POST', 'PATCH', 'PUT'].includes(method)) all['Content-Length'] = body?.length ?? 0
  await w.write(head(method, path, all))
  if (body && body.length > 0) await w.write(body)
  const result = await w.final()
  w.socket.destroy()
  return result
}
