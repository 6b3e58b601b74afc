/**
 * The body idle timeout (bodyIdleTimeout) is for clients that stall, not for a server that holds the body
 * back: while a slow store keeps the request paused (backpressure), no byte can arrive and the timeout must
 * not run. A client that really stops sending still gets 408, with the bytes it sent kept.
 */
import { afterEach, expect, it } from 'vitest'
import { MemoryStore, type DataStore, type WriteOptions } from 'tus-middleware'
import { randomData, sha256 } from '../helpers/bytes.js'
import { createUpload, headOffset, patchHead, rawClient, sleep } from '../helpers/raw.js'
import { startServer, type TestServer } from '../helpers/server.js'

const IDLE = 300
const SIZE = 2 * 1024 * 1024

/**
 * A MemoryStore whose writes consume the body slowly: a pause longer than the idle timeout at the first chunk,
 * then 100 ms per 256 KiB, so that 2 MiB take about 4x bodyIdleTimeout.
 */
class SlowStore extends MemoryStore {
  override async write(id: string, offset: number, body: AsyncIterable<Buffer>, options?: WriteOptions): Promise<number> {
    async function* slow(): AsyncIterable<Buffer> {
      let since = 0
      let first = true
      for await (const chunk of body) {
        if (first) await sleep(IDLE + 150)
        first = false
        since += chunk.length
        if (since >= 256 * 1024) {
          since = 0
          await sleep(100)
        }
        yield chunk
      }
    }
    return super.write(id, offset, slow(), options)
  }
}

let server: TestServer | undefined
afterEach(async () => {
  await server?.close()
  server = undefined
})

async function download(url: string): Promise<Buffer> {
  return Buffer.from(await (await fetch(url)).arrayBuffer())
}

it('a client sending at full speed to a slow store gets 204, not 408, and its exact bytes are stored', async () => {
  const store: DataStore = new SlowStore()
  server = await startServer({ store, bodyIdleTimeout: IDLE })
  const url = await createUpload(server.url, SIZE)
  const data = randomData(SIZE)
  const client = await rawClient(server.origin)
  const started = Date.now()
  await client.write(patchHead(new URL(url).pathname, 0, SIZE))
  await client.write(data)
  const res = await client.response
  const elapsed = Date.now() - started
  expect(res.status, res.body).toBe(204)
  expect(res.headers['upload-offset']).toBe(String(SIZE))
  // The store really held the body back for longer than the idle timeout, several times over.
  expect(elapsed).toBeGreaterThan(2 * IDLE)
  expect(sha256(await download(url))).toBe(sha256(data))
  client.socket.destroy()
})

it('a client that stops sending half-way still gets 408 after the idle timeout, its bytes kept', async () => {
  server = await startServer({ store: new SlowStore(), bodyIdleTimeout: IDLE })
  const url = await createUpload(server.url, SIZE)
  const data = randomData(SIZE)
  const half = SIZE / 2
  const client = await rawClient(server.origin)
  await client.write(patchHead(new URL(url).pathname, 0, SIZE))
  await client.write(data.subarray(0, half))
  const stopped = Date.now()
  const res = await client.response
  const elapsed = Date.now() - stopped
  expect(res.status, res.body).toBe(408)
  // Not before the timeout, and not much later than the slow store needs for what arrived plus the timeout.
  expect(elapsed).toBeGreaterThanOrEqual(IDLE - 20)
  expect(elapsed).toBeLessThan(5000)
  client.socket.destroy()
  const { status, offset } = await headOffset(url)
  expect(status).toBe(200)
  expect(offset).toBe(half)
  expect(sha256(await download(url))).toBe(sha256(data.subarray(0, half)))
})

it('without a slow store, a stalled client gets 408 about bodyIdleTimeout after its last byte', async () => {
  server = await startServer({ store: new MemoryStore(), bodyIdleTimeout: IDLE })
  const url = await createUpload(server.url, SIZE)
  const data = randomData(SIZE)
  const client = await rawClient(server.origin)
  await client.write(patchHead(new URL(url).pathname, 0, SIZE))
  await client.write(data.subarray(0, 1000))
  const stopped = Date.now()
  const res = await client.response
  const elapsed = Date.now() - stopped
  expect(res.status).toBe(408)
  expect(elapsed).toBeGreaterThanOrEqual(IDLE - 20)
  expect(elapsed).toBeLessThan(IDLE + 700)
  client.socket.destroy()
  expect((await headOffset(url)).offset).toBe(1000)
})
