// The benchmark client's HTTP layer: keep-alive connections (see wire.mjs), bodies sent from one reused
// buffer, so that the client costs as little CPU as possible.
import { randomFillSync } from 'node:crypto'
import { Client } from './wire.mjs'

/** 1 MiB of random bytes; every body is this buffer repeated (then cut to size). */
export const SOURCE = randomFillSync(Buffer.allocUnsafe(1024 * 1024))

const clients = new Map()

/** Closes every connection (between workloads). */
export function closeAll() {
  for (const client of clients.values()) client.close()
  clients.clear()
}

/**
 * Sends a request; `size` bytes of body (from SOURCE, repeated) when given. Resolves with status and
 * headers (lower-case names) once the response has ended.
 */
export function send(url, method, headers = {}, size = -1) {
  const { origin, pathname } = new URL(url)
  let client = clients.get(origin)
  if (!client) clients.set(origin, (client = new Client(origin)))
  const h = { 'Tus-Resumable': '1.0.0', ...headers }
  if (size >= 0) {
    h['Content-Type'] = 'application/offset+octet-stream'
    h['Content-Length'] = size
  } else if (method !== 'HEAD' && method !== 'OPTIONS') {
    h['Content-Length'] = 0
  }
  return client.send(pathname, method, h, Math.max(size, 0), SOURCE)
}

/** Throws unless the response has the expected status. */
export function expect(res, status, what) {
  if (res.status !== status) throw new Error(`${what}: expected ${status}, got ${res.status}`)
  return res
}

/** Runs `task(i)` for i in [0, count) with at most `concurrency` in flight. */
export async function pool(count, concurrency, task) {
  let next = 0
  const worker = async () => {
    while (next < count) await task(next++)
  }
  await Promise.all(Array.from({ length: Math.min(concurrency, count) }, worker))
}
