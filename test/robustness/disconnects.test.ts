/**
 * Clients that vanish or stall mid-body: every byte that reached the store stays stored, the offset says so,
 * the lock is released, and nothing escapes as an unhandled error or rejection.
 */
import { readFile } from 'node:fs/promises'
import { join } from 'node:path'
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest'
import { FileStore, MemoryLocker } from 'tus-middleware'
import { randomData, sha256 } from '../helpers/bytes.js'
import { useCleanup } from '../helpers/cleanup.js'
import { InstrumentedStore } from '../helpers/instrumented-store.js'
import { createUpload, headOffset, patch, patchHead, rawClient, until } from '../helpers/raw.js'
import { startServer, tempDir, type TestServer } from '../helpers/server.js'
import { TUS } from '../helpers/tus.js'

const escaped: unknown[] = []
const onEscape = (err: unknown) => escaped.push(err)
beforeAll(() => {
  process.on('unhandledRejection', onEscape)
  process.on('uncaughtException', onEscape)
})
afterAll(() => {
  process.off('unhandledRejection', onEscape)
  process.off('uncaughtException', onEscape)
})

// After hooks run last registered first: each test's servers are stopped, then nothing may have escaped.
afterEach(() => {
  expect(escaped).toEqual([])
})
const defer = useCleanup()

async function setup(options: Record<string, unknown> = {}) {
  const dir = await tempDir()
  const store = new InstrumentedStore(new FileStore({ directory: dir.path }))
  const locker = new MemoryLocker()
  const server: TestServer = await startServer({ store, locker, bodyIdleTimeout: 0, ...options })
  defer(dir.remove, server.close)
  const stored = (url: string) => readFile(join(dir.path, `${url.split('/').pop()}.bin`))
  return { store, locker, server, stored }
}

describe('a client that disconnects mid-body', () => {
  it('leaves every byte that reached the store stored, the offset exact, the lock free', async () => {
    const { store, locker, server, stored } = await setup()
    const data = randomData(1_000_000)
    const url = await createUpload(server.url, data.length)
    const id = url.split('/').pop()!
    const client = await rawClient(server.origin)
    await client.write(patchHead(new URL(url).pathname, 0, data.length))
    const sent = 300_000
    for (let at = 0; at < sent; at += 16_384) await client.write(data.subarray(at, Math.min(at + 16_384, sent)))
    await until(() => store.written.get(id) === sent, 5000, 'the bytes sent to reach the store')
    client.socket.destroy()
    await until(() => locker.size === 0, 5000, 'the lock to be released')

    expect(await headOffset(url)).toEqual({ status: 200, offset: sent })
    expect(sha256(await stored(url))).toBe(sha256(data.subarray(0, sent)))
    expect((await patch(url, sent, data.subarray(sent))).status).toBe(204)
    expect(sha256(await stored(url))).toBe(sha256(data))
  })

  it('at random moments: the offset always equals what the store received, and is a true prefix', async () => {
    const { store, locker, server, stored } = await setup()
    const data = randomData(400_000)
    const url = await createUpload(server.url, data.length)
    const id = url.split('/').pop()!
    let offset = 0
    for (let round = 0; round < 12 && offset < data.length; round++) {
      const client = await rawClient(server.origin)
      await client.write(patchHead(new URL(url).pathname, offset, data.length - offset))
      const cut = offset + Math.floor(Math.random() * (data.length - offset) * 0.3)
      for (let at = offset; at < cut; at += 7_000) client.socket.write(data.subarray(at, Math.min(at + 7_000, cut)))
      await new Promise((r) => setTimeout(r, Math.random() * 10))
      client.socket.destroy()
      await until(() => locker.size === 0, 5000, 'the lock to be released')
      const head = await headOffset(url)
      expect(head.status).toBe(200)
      expect(head.offset).toBe(store.written.get(id) ?? 0)
      expect(head.offset).toBeGreaterThanOrEqual(offset)
      expect(head.offset).toBeLessThanOrEqual(cut)
      offset = head.offset
      expect(sha256(await stored(url))).toBe(sha256(data.subarray(0, offset)))
    }
    expect((await patch(url, offset, data.subarray(offset))).status).toBe(204)
    expect(sha256(await stored(url))).toBe(sha256(data))
  })

  it('during a creation-with-upload POST keeps the created upload and its first bytes', async () => {
    const { store, locker, server, stored } = await setup()
    const data = randomData(200_000)
    const client = await rawClient(server.origin)
    await client.write(
      `POST /files HTTP/1.1\r\nHost: localhost\r\nTus-Resumable: 1.0.0\r\nUpload-Length: ${data.length}\r\n` +
        `Content-Type: application/offset+octet-stream\r\nContent-Length: ${data.length}\r\n\r\n`,
    )
    await client.write(data.subarray(0, 50_000))
    await until(() => [...store.written.values()][0] === 50_000, 5000, 'the first bytes to be stored')
    const id = [...store.written.keys()][0]
    client.socket.destroy()
    await until(() => locker.size === 0)
    const url = `${server.url}/${id}`
    expect(await headOffset(url)).toEqual({ status: 200, offset: 50_000 })
    expect(sha256(await stored(url))).toBe(sha256(data.subarray(0, 50_000)))
  })
})

describe('a client that stalls mid-body', () => {
  it('is ended by bodyIdleTimeout with 408: its bytes are kept and the lock is freed', async () => {
    const { store, locker, server, stored } = await setup({ bodyIdleTimeout: 150 })
    const data = randomData(50_000)
    const url = await createUpload(server.url, data.length)
    const client = await rawClient(server.origin)
    await client.write(patchHead(new URL(url).pathname, 0, data.length))
    await client.write(data.subarray(0, 12_345)) // then nothing
    const answer = await client.response
    expect(answer.status).toBe(408)
    expect(answer.headers.connection).toBe('close')
    expect(answer.headers['tus-resumable']).toBe('1.0.0')
    await client.closed
    expect(locker.size).toBe(0)
    expect(store.written.get(url.split('/').pop()!)).toBe(12_345)
    expect(await headOffset(url)).toEqual({ status: 200, offset: 12_345 })
    expect(sha256(await stored(url))).toBe(sha256(data.subarray(0, 12_345)))
    expect((await patch(url, 12_345, data.subarray(12_345))).status).toBe(204)
    expect(sha256(await stored(url))).toBe(sha256(data))
  })

  it('that never sends a body byte is ended too, with nothing stored', async () => {
    const { locker, server, stored } = await setup({ bodyIdleTimeout: 100 })
    const url = await createUpload(server.url, 100)
    const client = await rawClient(server.origin)
    await client.write(patchHead(new URL(url).pathname, 0, 100))
    expect((await client.response).status).toBe(408)
    expect(locker.size).toBe(0)
    expect((await stored(url)).length).toBe(0)
    const res = await fetch(url, { method: 'HEAD', headers: TUS })
    expect(res.headers.get('upload-offset')).toBe('0')
  })
})
