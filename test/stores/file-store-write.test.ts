// FileStore.write batching (chunks gathered into one writev) and grouped directory syncs.
import { mkdir, readdir, readFile, readlink, rename } from 'node:fs/promises'
import { setTimeout as sleep } from 'node:timers/promises'
import { join } from 'node:path'
import request from 'supertest'
import { afterEach, beforeEach, describe, expect, it } from 'vitest'
import { FileStore } from 'tus-middleware'
import { syncDirectory } from '../../lib/stores/atomic-file.js'
import { batches } from '../../lib/stores/batches.js'
import { randomData, sha256 } from '../helpers/bytes.js'
import { startServer, tempDir } from '../helpers/server.js'
import { TUS } from '../helpers/tus.js'

let dir: Awaited<ReturnType<typeof tempDir>>
beforeEach(async () => {
  dir = await tempDir()
})
afterEach(() => dir.remove())

/** A body that hands out one chunk per step and offers the next `batch` chunks as already buffered. */
function bufferedBody(chunks: Buffer[], batch: number) {
  let i = 0
  return {
    taken: 0,
    takeBuffered(): Buffer[] {
      const out = chunks.slice(i, i + batch)
      i += out.length
      this.taken += out.length
      return out
    },
    async *[Symbol.asyncIterator]() {
      while (i < chunks.length) yield chunks[i++]
    },
  }
}

describe('FileStore.write', () => {
  it('writes buffered chunks together, in order, at the offset', async () => {
    const store = new FileStore({ directory: dir.path })
    await store.create({ id: 'w', length: 1 << 20, metadata: {}, createdAt: new Date().toISOString() })
    const data = randomData(300_000)
    const first = data.subarray(0, 1000)
    expect(await store.write('w', 0, bufferedBody([first], 0))).toBe(1000)
    const chunks: Buffer[] = []
    for (let at = 1000; at < data.length; at += 7_777) chunks.push(data.subarray(at, Math.min(at + 7_777, data.length)))
    const body = bufferedBody(chunks, 5)
    expect(await store.write('w', 1000, body)).toBe(data.length)
    expect(body.taken).toBeGreaterThan(0)
    expect(sha256(await readFile(join(dir.path, 'w.bin')))).toBe(sha256(data))
  })

  it('stores a large PATCH byte for byte when the body outruns the disk', async () => {
    const server = await startServer({ store: new FileStore({ directory: dir.path }) })
    try {
      const data = randomData(12 * 1024 * 1024)
      const created = await request(server.origin).post('/files').set(TUS).set('Upload-Length', String(data.length)).expect(201)
      const id = created.headers.location.split('/').pop()!
      const res = await request(server.origin)
        .patch(`/files/${id}`)
        .set(TUS)
        .set('Upload-Offset', '0')
        .set('Content-Type', 'application/offset+octet-stream')
        .send(data)
      expect(res.status).toBe(204)
      expect(res.headers['upload-offset']).toBe(String(data.length))
      expect(sha256(await readFile(join(dir.path, `${id}.bin`)))).toBe(sha256(data))
    } finally {
      await server.close()
    }
  })
})

describe('syncDirectory', () => {
  it('answers every concurrent caller, and callers after them', async () => {
    await Promise.all(Array.from({ length: 20 }, () => syncDirectory(dir.path)))
    await syncDirectory(dir.path)
  })

  it('rejects every caller when the directory cannot be synced, and recovers', async () => {
    const missing = join(dir.path, 'missing')
    const results = await Promise.allSettled(Array.from({ length: 5 }, () => syncDirectory(missing)))
    expect(results.every((r) => r.status === 'rejected')).toBe(true)
    await expect(syncDirectory(dir.path)).resolves.toBeUndefined()
    // A directory that could not be opened is opened again by the next sync, not remembered as failed.
    await mkdir(missing)
    await expect(syncDirectory(missing)).resolves.toBeUndefined()
  })

  it.skipIf(process.platform !== 'linux')('syncs a directory replaced meanwhile through a new handle', async () => {
    const path = join(dir.path, 'uploads')
    await mkdir(path)
    await syncDirectory(path)
    await rename(path, join(dir.path, 'old'))
    await mkdir(path)
    // A steady stream of syncs, never idle long enough for the handle to be closed for idleness.
    for (let i = 0; i < 5; i++) {
      await sleep(300)
      await syncDirectory(path)
    }
    // No descriptor of this process still names the old directory.
    const fds = await readdir('/proc/self/fd')
    const targets = await Promise.all(fds.map((fd) => readlink(`/proc/self/fd/${fd}`).catch(() => '')))
    expect(targets).not.toContain(join(dir.path, 'old'))
    expect(targets).toContain(path)
  })

  it('creates many uploads at once, each with a readable record', async () => {
    const store = new FileStore({ directory: dir.path, cacheSize: 0 })
    const ids = Array.from({ length: 40 }, (_, i) => `u${i}`)
    await Promise.all(ids.map((id) => store.create({ id, length: 1, metadata: {}, createdAt: new Date().toISOString() })))
    for (const id of ids) expect((await store.get(id))?.id).toBe(id)
  })
})

describe('batches', () => {
  const collect = async (body: AsyncIterable<Buffer>, target: number) => {
    const out: Buffer[][] = []
    for await (const batch of batches(body, target, 5)) out.push(batch)
    return out
  }

  it('gathers chunks that arrive together into batches of at least the target size', async () => {
    const chunks = Array.from({ length: 10 }, (_, i) => Buffer.alloc(100, i))
    async function* quick() {
      yield* chunks
    }
    const out = await collect(quick(), 350)
    expect(out.map((b) => b.length)).toEqual([4, 4, 2])
    expect(Buffer.concat(out.flat())).toEqual(Buffer.concat(chunks))
  })

  it('hands out what arrived when the body stalls, without waiting for the rest', async () => {
    let release!: () => void
    const stalled = new Promise<void>((resolve) => (release = resolve))
    async function* slow() {
      yield Buffer.from('early')
      await stalled
      yield Buffer.from('late')
    }
    const it = batches(slow(), 1 << 20, 5)[Symbol.asyncIterator]()
    const first = await it.next() // would hang until release() if it waited for the target size
    expect(Buffer.concat(first.value as Buffer[]).toString()).toBe('early')
    release()
    expect(Buffer.concat((await it.next()).value as Buffer[]).toString()).toBe('late')
    expect((await it.next()).done).toBe(true)
  })

  it('hands out what it gathered before a failing body throws', async () => {
    async function* failing() {
      yield Buffer.from('kept')
      throw new Error('connection lost')
    }
    const seen: string[] = []
    await expect(async () => {
      for await (const batch of batches(failing(), 1 << 20, 5)) seen.push(Buffer.concat(batch).toString())
    }).rejects.toThrow('connection lost')
    expect(seen).toEqual(['kept'])
  })

  it('tells the body to stop when the consumer stops early', async () => {
    let stopped = false
    const body: AsyncIterable<Buffer> = {
      [Symbol.asyncIterator]: () => ({
        next: async () => ({ done: false, value: Buffer.alloc(10) }),
        return: async () => {
          stopped = true
          return { done: true, value: undefined }
        },
      }),
    }
    for await (const batch of batches(body, 15, 5)) {
      expect(batch.length).toBe(2)
      break
    }
    expect(stopped).toBe(true)
  })
})
