// S3Store on a real S3 implementation (Ceph RGW; skipped when it is not installed): part sizes, tails, staged
// writes, failed parts, what a HEAD costs, removal, concatenation, and tus-js-client through Express.
import { CreateMultipartUploadCommand, GetObjectCommand, ListMultipartUploadsCommand, ListObjectsV2Command, type S3Client } from '@aws-sdk/client-s3'
import { createHash, randomBytes } from 'node:crypto'
import type { Readable } from 'node:stream'
import { afterEach, describe, expect, it } from 'vitest'
import { MemoryLocker } from 'tus-middleware'
import { S3Store } from '../../lib/s3/index.js'
import { generateId } from '../../lib/stores/ids.js'
import { sha256 } from '../helpers/bytes.js'
import { startServer, type TestServer } from '../helpers/server.js'
import { OCTET, TUS, idOf } from '../helpers/tus.js'
import { upload } from '../interop/client.js'
import { useRgw } from './rgw.js'

const MiB = 1024 * 1024
const { rgw, skip } = await useRgw()

interface Call {
  name: string
  input: Record<string, unknown>
}

/** Records every command the client sends; `fail` may throw instead of sending one. */
function watch(client: S3Client, fail?: (call: Call) => boolean): Call[] {
  const calls: Call[] = []
  client.middlewareStack.add(
    (next, context) => async (args) => {
      const call = { name: String(context.commandName).replace(/Command$/, ''), input: args.input as Record<string, unknown> }
      calls.push(call)
      if (fail?.(call)) throw new Error(`injected failure of ${call.name}`)
      return next(args)
    },
    { step: 'initialize', name: 'watchCalls' },
  )
  return calls
}

async function* chunks(data: Buffer, size = 256 * 1024): AsyncGenerator<Buffer> {
  for (let i = 0; i < data.length; i += size) yield data.subarray(i, i + size)
}

async function readAll(stream: Readable): Promise<Buffer> {
  const parts: Buffer[] = []
  for await (const chunk of stream) parts.push(chunk as Buffer)
  return Buffer.concat(parts)
}

const draft = (length: number | undefined, over = {}) => ({ id: generateId(), length, metadata: {}, createdAt: new Date().toISOString(), ...over })

/** The state object as stored. */
async function stateText(store: S3Store, id: string): Promise<string> {
  const res = await store.client.send(new GetObjectCommand({ Bucket: store.bucket, Key: store.infoKey(id) }))
  return res.Body!.transformToString()
}

async function keysUnder(client: S3Client, bucket: string, prefix: string): Promise<string[]> {
  const res = await client.send(new ListObjectsV2Command({ Bucket: bucket, Prefix: prefix }))
  return (res.Contents ?? []).map((o) => o.Key!)
}

const patch = (url: string, offset: number, body: Buffer, headers: Record<string, string> = {}) =>
  fetch(url, { method: 'PATCH', headers: { ...TUS, ...OCTET, 'Upload-Offset': String(offset), ...headers }, body })

let server: TestServer | undefined
afterEach(async () => {
  await server?.close()
  server = undefined
})

describe.skipIf(!rgw)(`S3Store on Ceph RGW${skip ? ` (${skip})` : ''}`, () => {
  it('stores a 30 MiB upload sent in uneven PATCHes in parts of exactly partSize but the last', async () => {
    const store = rgw!.store({ partSize: 5 * MiB })
    const calls = watch(store.client)
    server = await startServer({ store })
    const data = randomBytes(30 * MiB)
    const created = await fetch(server.url, { method: 'POST', headers: { ...TUS, 'Upload-Length': String(data.length) } })
    const url = new URL(created.headers.get('location')!, server.url).href
    const sizes = [1, 3_000_001, 1, 7 * MiB + 5, 1, 9_999_999, 1, 2 * MiB + 3]
    let offset = 0
    for (let i = 0; offset < data.length; i++) {
      const size = Math.min(sizes[i % sizes.length], data.length - offset)
      const res = await patch(url, offset, data.subarray(offset, offset + size))
      expect(res.status).toBe(204)
      offset += size
      expect(res.headers.get('upload-offset')).toBe(String(offset))
    }
    const sizeOf = new Map<number, number>()
    for (const c of calls) if (c.name === 'UploadPart') sizeOf.set(c.input.PartNumber as number, (c.input.Body as Buffer).length)
    const completes = calls.filter((c) => c.name === 'CompleteMultipartUpload')
    expect(completes).toHaveLength(1)
    const parts = (completes[0].input.MultipartUpload as { Parts: { PartNumber: number }[] }).Parts.map((p) => p.PartNumber)
    expect(parts).toEqual([1, 2, 3, 4, 5, 6])
    expect(parts.map((n) => sizeOf.get(n))).toEqual([5 * MiB, 5 * MiB, 5 * MiB, 5 * MiB, 5 * MiB, 5 * MiB])
    expect(calls.some((c) => c.name === 'ListParts')).toBe(false)
    const got = Buffer.from(await (await fetch(url)).arrayBuffer())
    expect(sha256(got)).toBe(sha256(data))
    // The object holds the bytes, and no tail is left.
    expect(await keysUnder(store.client, store.bucket, `${store.prefix}.tus/tails/`)).toEqual([])
  })

  it('keeps a deferred-length upload byte-exact when it ends with a small tail', async () => {
    const store = rgw!.store({ partSize: 5 * MiB, maxSize: 40 * 1024 * MiB })
    server = await startServer({ store })
    const data = randomBytes(11 * MiB + 12_345)
    const created = await fetch(server.url, { method: 'POST', headers: { ...TUS, 'Upload-Defer-Length': '1' } })
    const url = new URL(created.headers.get('location')!, server.url).href
    let offset = 0
    for (const size of [6 * MiB, 5 * MiB + 12_000]) {
      expect((await patch(url, offset, data.subarray(offset, offset + size))).status).toBe(204)
      offset += size
    }
    const last = await patch(url, offset, data.subarray(offset), { 'Upload-Length': String(data.length) })
    expect(last.status).toBe(204)
    expect(last.headers.get('upload-offset')).toBe(String(data.length))
    const got = Buffer.from(await (await fetch(url)).arrayBuffer())
    expect(got.length).toBe(data.length)
    expect(sha256(got)).toBe(sha256(data))
  })

  it('leaves the state untouched when a checksummed PATCH is refused with 460', async () => {
    const store = rgw!.store({ partSize: 5 * MiB })
    server = await startServer({ store })
    const data = randomBytes(7 * MiB)
    const created = await fetch(server.url, { method: 'POST', headers: { ...TUS, 'Upload-Length': String(20 * MiB) } })
    const url = new URL(created.headers.get('location')!, server.url).href
    const id = idOf(url)
    expect((await patch(url, 0, data)).status).toBe(204)
    const before = await stateText(store, id)
    const tails = await keysUnder(store.client, store.bucket, `${store.prefix}.tus/tails/`)
    // 6 MiB more: a whole part (the 2 MiB tail and 3 MiB) and a new tail, all staged, then refused.
    const wrong = createHash('sha1').update('not these bytes').digest('base64')
    const refused = await patch(url, data.length, randomBytes(6 * MiB), { 'Upload-Checksum': `sha1 ${wrong}` })
    expect(refused.status).toBe(460)
    expect(await stateText(store, id)).toBe(before)
    expect(await keysUnder(store.client, store.bucket, `${store.prefix}.tus/tails/`)).toEqual(tails)
    const head = await fetch(url, { method: 'HEAD', headers: TUS })
    expect(head.headers.get('upload-offset')).toBe(String(data.length))
    // A checksummed PATCH that matches counts.
    const more = randomBytes(6 * MiB)
    const ok = await patch(url, data.length, more, { 'Upload-Checksum': `sha1 ${createHash('sha1').update(more).digest('base64')}` })
    expect(ok.status).toBe(204)
    expect(ok.headers.get('upload-offset')).toBe(String(13 * MiB))
  })

  it('never counts bytes after a part whose upload failed', async () => {
    const store = rgw!.store({ partSize: 5 * MiB })
    let failNext = true
    watch(store.client, (c) => c.name === 'UploadPart' && c.input.PartNumber === 2 && failNext && !(failNext = false))
    const data = randomBytes(13 * MiB)
    const d = draft(data.length)
    await store.create(d)
    await expect(store.write(d.id, 0, chunks(data))).rejects.toThrow('injected failure of UploadPart')
    // Part 1 stands; part 2 failed, so nothing after it counts (not the bytes that would have made part 3).
    expect((await store.get(d.id))!.offset).toBe(5 * MiB)
    expect(await store.write(d.id, 5 * MiB, chunks(data.subarray(5 * MiB)))).toBe(data.length)
    await store.finish(d.id)
    expect(sha256(await readAll(await store.read(d.id)))).toBe(sha256(data))
  })


  it('writes the state during a write at most about once a second, and with every confirmed part at its end', async () => {
    const store = rgw!.store({ partSize: 5 * MiB })
    const calls = watch(store.client)
    // A first change finds out how this service wants If-Match (an extra call on Ceph RGW 16): not counted.
    const warm = draft(1)
    await store.create(warm)
    await store.write(warm.id, 0, chunks(Buffer.from('x')))
    const data = randomBytes(70 * MiB + 3)
    const d = draft(data.length + 1)
    await store.create(d)
    const stateWrites = () => calls.filter((c) => c.name === 'PutObject' && c.input.Key === store.infoKey(d.id)).length
    const before = stateWrites()
    let seenDuringPause: number | undefined
    const start = Date.now()
    async function* body(): AsyncGenerator<Buffer> {
      yield* chunks(data.subarray(0, 60 * MiB))
      // A pause longer than the interval: the parts confirmed so far are written meanwhile, while the body is open.
      const paused = Date.now()
      do {
        await new Promise((r) => setTimeout(r, 200))
        seenDuringPause = JSON.parse(await stateText(store, d.id)).parts.length
      } while (seenDuringPause! < 12 && Date.now() - paused < 5000)
      yield* chunks(data.subarray(60 * MiB))
    }
    expect(await store.write(d.id, 0, body())).toBe(data.length)
    const seconds = Math.floor((Date.now() - start) / 1000)
    expect(seenDuringPause).toBe(12)
    expect(calls.filter((c) => c.name === 'UploadPart')).toHaveLength(14)
    // Fewer state writes than parts: the first part's, then at most one a second, and the last.
    expect(stateWrites() - before).toBeLessThanOrEqual(2 + seconds)
    expect((await store.get(d.id))!.offset).toBe(data.length)
    expect(JSON.parse(await stateText(store, d.id)).parts).toHaveLength(14)
  })

  it('pipelines parts: a failed middle part counts nothing after it, though a later part was stored', async () => {
    const store = rgw!.store({ partSize: 5 * MiB, partConcurrency: 3 })
    let thirdStored!: () => void
    const third = new Promise<void>((r) => (thirdStored = r))
    const sent: number[] = []
    store.client.middlewareStack.add(
      (next, context) => async (args) => {
        if (context.commandName !== 'UploadPartCommand') return next(args)
        const n = (args.input as { PartNumber: number }).PartNumber
        sent.push(n)
        // Part 2 fails only once part 3 is stored: part 3 ended well before part 2 ended badly.
        if (n === 2 && sent.filter((x) => x === 2).length === 1) {
          await third
          throw new Error('injected failure of part 2')
        }
        const out = await next(args)
        if (n === 3) thirdStored()
        return out
      },
      { step: 'initialize', name: 'failPart2' },
    )
    const data = randomBytes(23 * MiB)
    const d = draft(data.length)
    await store.create(d)
    await expect(store.write(d.id, 0, chunks(data))).rejects.toThrow('injected failure of part 2')
    // Parts 1 to 3 were in flight together; only part 1 counts, not part 3 (stored) nor anything after it.
    expect(sent.slice(0, 3).sort()).toEqual([1, 2, 3])
    expect((await store.get(d.id))!.offset).toBe(5 * MiB)
    const state = JSON.parse(await stateText(store, d.id)) as { parts: { n: number }[]; tail?: unknown }
    expect(state.parts.map((p) => p.n)).toEqual([1])
    expect(state.tail).toBeUndefined()
    // Resumed from there: parts 2 and 3 are sent again, and the object is whole.
    expect(await store.write(d.id, 5 * MiB, chunks(data.subarray(5 * MiB)))).toBe(data.length)
    await store.finish(d.id)
    expect(sha256(await readAll(await store.read(d.id)))).toBe(sha256(data))
  })

  it('keeps at most partConcurrency parts in flight and partConcurrency + 1 part buffers per PATCH', async () => {
    for (const partConcurrency of [1, 2]) {
      const store = rgw!.store({ partSize: 5 * MiB, partConcurrency })
      let inFlight = 0
      let most = 0
      store.client.middlewareStack.add(
        (next, context) => async (args) => {
          if (context.commandName !== 'UploadPartCommand') return next(args)
          most = Math.max(most, ++inFlight)
          try {
            return await next(args)
          } finally {
            inFlight--
          }
        },
        { step: 'initialize', name: 'countParts' },
      )
      const data = randomBytes(64 * MiB)
      const d = draft(data.length)
      await store.create(d)
      expect(await store.write(d.id, 0, chunks(data))).toBe(data.length)
      expect(most).toBe(partConcurrency)
      expect(store.partBuffersAllocated).toBeLessThanOrEqual(partConcurrency + 1)
      await store.finish(d.id)
      expect(sha256(await readAll(await store.read(d.id)))).toBe(sha256(data))
    }
  })

  it('stops at once when the signal aborts while parts are in flight, counting no part sent after', async () => {
    const store = rgw!.store({ partSize: 5 * MiB, partConcurrency: 3 })
    const abort = new AbortController()
    let parts = 0
    store.client.middlewareStack.add(
      (next, context) => async (args) => {
        // The lock is lost as the third part is sent.
        if (context.commandName === 'UploadPartCommand' && ++parts === 3) abort.abort(new Error('lock lost'))
        return next(args)
      },
      { step: 'initialize', name: 'loseLock' },
    )
    const data = randomBytes(40 * MiB)
    const d = draft(data.length)
    await store.create(d)
    const t = performance.now()
    await expect(store.write(d.id, 0, chunks(data), { signal: abort.signal })).rejects.toThrow('lock lost')
    expect(performance.now() - t).toBeLessThan(10_000)
    expect(parts).toBe(3)
    const offset = (await store.get(d.id))!.offset
    expect([0, 5 * MiB, 10 * MiB]).toContain(offset)
  })

  it('sends parts as UNSIGNED-PAYLOAD (no SHA-256 of the bytes) unless signPayload', async () => {
    for (const signPayload of [false, true]) {
      const store = rgw!.store({ partSize: 5 * MiB, signPayload })
      const hashes: string[] = []
      store.client.middlewareStack.add(
        (next, context) => async (args) => {
          const headers = (args.request as { headers: Record<string, string> }).headers
          if (context.commandName === 'UploadPartCommand') hashes.push(headers['x-amz-content-sha256'])
          return next(args)
        },
        { step: 'finalizeRequest', name: 'seeHash', priority: 'low' },
      )
      const data = randomBytes(11 * MiB)
      const d = draft(data.length)
      await store.create(d)
      expect(await store.write(d.id, 0, chunks(data))).toBe(data.length)
      expect(hashes).toHaveLength(3)
      for (const h of hashes) expect(h === 'UNSIGNED-PAYLOAD').toBe(!signPayload)
      await store.finish(d.id)
      expect(sha256(await readAll(await store.read(d.id)))).toBe(sha256(data))
    }
  })

  it('answers a HEAD with exactly one GetObject, whatever the part count', async () => {
    const store = rgw!.store({ partSize: 5 * MiB })
    const d = draft(40 * MiB)
    await store.create(d)
    await store.write(d.id, 0, chunks(randomBytes(26 * MiB)))
    server = await startServer({ store })
    const calls = watch(store.client)
    const head = await fetch(`${server.url}/${d.id}`, { method: 'HEAD', headers: TUS })
    expect(head.status).toBe(200)
    expect(head.headers.get('upload-offset')).toBe(String(26 * MiB))
    expect(calls.map((c) => c.name)).toEqual(['GetObject'])
  })

  it('refuses a write with an older fence, and a state changed behind its back', async () => {
    const store = rgw!.store({ partSize: 5 * MiB })
    const d = draft(100)
    await store.create(d)
    expect(await store.write(d.id, 0, chunks(Buffer.alloc(10, 1)), { fence: 7 })).toBe(10)
    await expect(store.write(d.id, 10, chunks(Buffer.alloc(10, 2)), { fence: 6 })).rejects.toMatchObject({ code: 'LOCK_LOST' })
    expect((await store.get(d.id))!.offset).toBe(10)
    expect(await store.write(d.id, 10, chunks(Buffer.alloc(10, 3)), { fence: 8 })).toBe(20)
    // Two writers that both read the state at offset 20: the second to store its state is refused (If-Match).
    let release!: () => void
    const gate = new Promise<void>((r) => (release = r))
    const slow = store.write(d.id, 20, (async function* () {
      await gate
      yield Buffer.alloc(5, 4)
    })(), { fence: 8 })
    await new Promise((r) => setTimeout(r, 200)) // the slow writer has read the state
    expect(await store.write(d.id, 20, chunks(Buffer.alloc(5, 5)), { fence: 9 })).toBe(25)
    release()
    await expect(slow).rejects.toMatchObject({ code: 'LOCK_LOST' })
    expect((await store.get(d.id))!.offset).toBe(25)
    expect([...(await readAll(await store.read(d.id)))].slice(20)).toEqual([5, 5, 5, 5, 5])
  })

  it('removes every object and multipart upload of an upload', async () => {
    const store = rgw!.store({ partSize: 5 * MiB })
    const d = draft(30 * MiB, { concat: { type: 'partial' } })
    await store.create(d)
    await store.write(d.id, 0, chunks(randomBytes(12 * MiB)))
    await store.link(d.id, generateId())
    // A multipart upload a crash left unnamed.
    await store.client.send(new CreateMultipartUploadCommand({ Bucket: store.bucket, Key: store.key(d.id) }))
    const ours = (keys: string[]) => keys.filter((k) => k.includes(d.id))
    expect(ours(await keysUnder(store.client, store.bucket, store.prefix)).length).toBeGreaterThan(1)
    await store.remove(d.id)
    expect(ours(await keysUnder(store.client, store.bucket, store.prefix))).toEqual([])
    const mpus = await store.client.send(new ListMultipartUploadsCommand({ Bucket: store.bucket, Prefix: store.key(d.id) }))
    expect(mpus.Uploads ?? []).toEqual([])
    expect(await store.get(d.id)).toBeUndefined()
  })

  for (const [how, sizes, copied] of [
    ['UploadPartCopy (parts of 5 MiB or more)', [6 * MiB, 5 * MiB, 1234], true],
    ['copying the bytes (small parts)', [2 * MiB + 1, 3 * MiB, 2 * MiB, 17], false],
  ] as const) {
    it(`concatenates finished parts by ${how}`, async () => {
      const store = rgw!.store({ partSize: 5 * MiB })
      const datas = sizes.map((n) => randomBytes(n))
      const ids: string[] = []
      for (const data of datas) {
        const d = draft(data.length, { concat: { type: 'partial' } })
        await store.create(d)
        await store.write(d.id, 0, chunks(data))
        await store.finish(d.id)
        ids.push(d.id)
      }
      const expected = Buffer.concat(datas)
      const final = draft(expected.length, { concat: { type: 'final', parts: ids, header: 'final;x' } })
      await store.create(final)
      const calls = watch(store.client)
      expect((await store.concatenate(final.id, ids)).offset).toBe(expected.length)
      expect(calls.some((c) => c.name === 'UploadPartCopy')).toBe(copied)
      expect(calls.some((c) => c.name === 'UploadPart')).toBe(!copied)
      expect(sha256(await readAll(await store.read(final.id)))).toBe(sha256(expected))
      // A range read passes through to S3.
      const range = await readAll(await store.read(final.id, { start: 5 * MiB - 10, end: 5 * MiB + 9 }))
      expect(range.equals(expected.subarray(5 * MiB - 10, 5 * MiB + 10))).toBe(true)
    })
  }

  it('takes a tus-js-client upload through Express, chunkSize not a multiple of partSize, resumed after abort()', async () => {
    const store = rgw!.store({ partSize: 5 * MiB })
    server = await startServer({ store, locker: new MemoryLocker() })
    const data = randomBytes(23 * MiB + 77)
    const chunkSize = 3 * MiB + 333
    const url = await new Promise<string>((resolve, reject) => {
      let done = 0
      let current: import('tus-js-client').Upload
      upload(data, {
        endpoint: server!.url,
        chunkSize,
        onChunkComplete: () => {
          if (++done === 3) current.abort().then(() => resolve(current.url!), reject)
        },
      }, (u) => (current = u)).then(() => reject(new Error('finished before abort')), reject)
    })
    const head = await fetch(url, { method: 'HEAD', headers: TUS })
    expect(Number(head.headers.get('upload-offset'))).toBeGreaterThanOrEqual(3 * chunkSize)
    expect(await upload(data, { endpoint: server.url, uploadUrl: url, chunkSize })).toBe(url)
    const got = Buffer.from(await (await fetch(url)).arrayBuffer())
    expect(sha256(got)).toBe(sha256(data))
  })

  it('checks its options and sizes parts for 5 TiB', () => {
    const config = rgw!.config
    expect(() => new S3Store({ bucket: 'b', client: config, partSize: 4 * MiB })).toThrow(/partSize/)
    expect(() => new S3Store({ bucket: '', client: config })).toThrow(/bucket/)
    expect(() => new S3Store({ bucket: 'b', client: config, partConcurrency: 0 })).toThrow(/partConcurrency/)
    expect(new S3Store({ bucket: 'b', client: config }).partConcurrency).toBe(4)
    const store = new S3Store({ bucket: 'b', client: config })
    expect(store.partSizeFor(100)).toBe(8 * MiB)
    // 5 TiB in at most 10,000 parts of whole MiB.
    const big = store.partSizeFor(5 * 1024 * 1024 * MiB)
    expect(big % MiB).toBe(0)
    expect(Math.ceil((5 * 1024 * 1024 * MiB) / big)).toBeLessThanOrEqual(10_000)
    expect(store.partSizeFor(undefined)).toBe(big)
    expect(new S3Store({ bucket: 'b', client: config, maxSize: 50 * 1024 * MiB }).partSizeFor(undefined)).toBe(8 * MiB)
  })
})
