/**
 * A write that fails never leaves bytes that count without being stored for good: bytes whose fsync failed,
 * and the bytes of a checksummed body that the store took only in part, are not in the offset afterwards,
 * and the upload resumes from the offset that stands.
 */
import { createHash } from 'node:crypto'
import { open, readFile } from 'node:fs/promises'
import { join } from 'node:path'
import { afterEach, expect, it } from 'vitest'
import { FileStore, MemoryStore, tus } from 'tus-middleware'
import { randomData, sha256 } from '../helpers/bytes.js'
import { useCleanup } from '../helpers/cleanup.js'
import { createUpload, headOffset, patch } from '../helpers/raw.js'
import { startServer, tempDir, type TestServer } from '../helpers/server.js'
import { OCTET, TUS } from '../helpers/tus.js'

const defer = useCleanup()
let server: TestServer | undefined
afterEach(async () => {
  await server?.close()
  server = undefined
})

it('does not count bytes whose data sync failed (syncWrites): 500, HEAD at the offset before, resumable', async () => {
  const dir = await tempDir()
  defer(dir.remove)
  server = await startServer({ store: new FileStore({ directory: dir.path, syncWrites: true }) })
  const data = randomData(3_000)
  const url = await createUpload(server.url, data.length)
  expect((await patch(url, 0, data.subarray(0, 1_000))).status).toBe(204)
  // The next data sync of a file reports an I/O error (a disk going bad, a full thin-provisioned volume).
  const probe = await open(join(dir.path, 'probe'), 'w')
  const proto = Object.getPrototypeOf(probe) as { datasync: () => Promise<void> }
  await probe.close()
  const original = proto.datasync
  let failNext = true
  proto.datasync = function (this: unknown) {
    if (failNext) {
      failNext = false
      return Promise.reject(Object.assign(new Error('EIO: i/o error, fdatasync'), { code: 'EIO' }))
    }
    return original.call(this)
  }
  defer(() => {
    proto.datasync = original
  })
  expect((await patch(url, 1_000, data.subarray(1_000, 2_000))).status).toBe(500)
  expect(failNext).toBe(false)
  expect((await headOffset(url)).offset).toBe(1_000)
  expect((await patch(url, 1_000, data.subarray(1_000))).status).toBe(204)
  expect((await headOffset(url)).offset).toBe(3_000)
  expect(sha256(await readFile(join(dir.path, `${url.split('/').pop()}.bin`)))).toBe(sha256(data))
})

it('counts nothing of a checksummed body the store failed to take whole, in a store of its own', async () => {
  // A store written outside this package: MemoryStore's methods, and a write that fails after 4 bytes once.
  const inner = new MemoryStore() as MemoryStore & Record<string, unknown>
  let failing = true
  const store: Record<string, unknown> = { capabilities: ['read'] }
  for (const name of ['create', 'get', 'update', 'read', 'commit', 'discard', 'truncate']) {
    if (typeof inner[name] === 'function') store[name] = (inner[name] as Function).bind(inner)
  }
  store.write = (id: string, offset: number, body: AsyncIterable<Buffer>, options?: unknown) =>
    inner.write(id, offset, (async function* () {
      for await (const chunk of body) {
        if (failing) {
          failing = false
          yield chunk.subarray(0, 4)
          throw Object.assign(new Error('EIO: i/o error, write'), { code: 'EIO' })
        }
        yield chunk
      }
    })(), options as never)
  server = await startServer({ store: store as never })
  const data = randomData(10)
  const url = await createUpload(server.url, data.length)
  const checksum = createHash('sha1').update(data).digest('base64')
  const res = await fetch(url, { method: 'PATCH', headers: { ...TUS, ...OCTET, 'Upload-Offset': '0', 'Upload-Checksum': `sha1 ${checksum}` }, body: data })
  expect(res.status).toBe(500)
  expect(failing).toBe(false)
  expect((await headOffset(url)).offset).toBe(0)
  expect((await patch(url, 0, data)).status).toBe(204)
  expect(sha256(Buffer.concat(await (await inner.read(url.split('/').pop()!)).toArray()))).toBe(sha256(data))
})

it('refuses a store without staged writes when the middleware is made', () => {
  const inner = new MemoryStore()
  const store = { capabilities: [], create: inner.create.bind(inner), get: inner.get.bind(inner), write: inner.write.bind(inner), update: inner.update.bind(inner) }
  expect(() => tus({ store: store as never })).toThrow(/no commit\(\) method/)
})
