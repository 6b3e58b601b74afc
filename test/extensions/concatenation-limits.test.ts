/**
 * Concatenation within bounds (spec: concatenation): a final names each part once, at most maxConcatParts
 * of them, within maxSize; a part gone during assembly is a 410; and the request that completes a final's
 * last part is answered without waiting for the assembly.
 */
import { afterEach, expect, it } from 'vitest'
import { FileStore, MemoryStore, type Upload } from 'tus-middleware'
import { randomData, sha256 } from '../helpers/bytes.js'
import { useCleanup } from '../helpers/cleanup.js'
import { createUpload, patch, sleep } from '../helpers/raw.js'
import { startServer, tempDir, type TestServer } from '../helpers/server.js'
import { idOf, pathOf, TUS } from '../helpers/tus.js'

const defer = useCleanup()
let server: TestServer | undefined
afterEach(async () => {
  await server?.close()
  server = undefined
})

async function part(url: string, data: Buffer): Promise<string> {
  const location = await createUpload(url, data.length, { 'Upload-Concat': 'partial' })
  if (data.length > 0) expect((await patch(location, 0, data)).status).toBe(204)
  return location
}

const createFinal = (url: string, parts: string[]) =>
  fetch(url, { method: 'POST', headers: { ...TUS, 'Upload-Concat': `final;${parts.map(pathOf).join(' ')}` } })

it('refuses a final that names a part twice, writing nothing', async () => {
  const store = new MemoryStore()
  server = await startServer({ store })
  const a = await part(server.url, randomData(1_000))
  const res = await createFinal(server.url, [a, a])
  expect(res.status).toBe(400)
  expect(await res.text()).toMatch(/more than once/)
  const all: Upload[] = []
  for await (const u of store.list()) all.push(u)
  expect(all.map((u) => u.id)).toEqual([idOf(a)])
})

it('refuses a final naming more parts than maxConcatParts', async () => {
  server = await startServer({ store: new MemoryStore(), maxConcatParts: 2 })
  const parts = [await part(server.url, randomData(1)), await part(server.url, randomData(1)), await part(server.url, randomData(1))]
  expect((await createFinal(server.url, parts)).status).toBe(400)
  expect((await createFinal(server.url, parts.slice(0, 2))).status).toBe(201)
})

it('refuses a final whose parts add up past maxSize', async () => {
  server = await startServer({ store: new MemoryStore(), maxSize: 1_500 })
  const parts = [await part(server.url, randomData(1_000)), await part(server.url, randomData(1_000))]
  expect((await createFinal(server.url, parts)).status).toBe(413)
})

it('answers 410 CONCAT_PART_GONE when a part is removed while the final is assembled, leaving nothing behind', async () => {
  const dir = await tempDir()
  defer(dir.remove)
  const inner = new FileStore({ directory: dir.path })
  const store = Object.create(inner) as FileStore
  let victim: string | undefined
  store.concatenate = async (id, parts) => {
    if (victim) await inner.remove(victim)
    return inner.concatenate(id, parts)
  }
  server = await startServer({ store })
  const a = await part(server.url, randomData(5_000))
  const b = await part(server.url, randomData(5_000))
  victim = idOf(b)
  const res = await createFinal(server.url, [a, b])
  expect(res.status).toBe(410)
  expect(await res.text()).toMatch(/no longer exists/)
  const left: string[] = []
  for await (const u of inner.list()) left.push(u.id)
  expect(left).toEqual([idOf(a)])
})

it('answers the PATCH that completes the last part before the final is assembled, then assembles it', async () => {
  const inner = new MemoryStore()
  const store = Object.create(inner) as MemoryStore
  let open!: () => void
  const gate = new Promise<void>((r) => (open = r))
  let assembling = false
  store.concatenate = async (id, parts) => {
    assembling = true
    await gate
    return inner.concatenate(id, parts)
  }
  server = await startServer({ store })
  const completed: string[] = []
  server.uploads.on('completed', (u) => completed.push(u.id))
  const dataA = randomData(2_000)
  const dataB = randomData(3_000)
  const a = await part(server.url, dataA)
  const b = await createUpload(server.url, dataB.length, { 'Upload-Concat': 'partial' })
  const created = await createFinal(server.url, [a, b])
  expect(created.status).toBe(201)
  const final = new URL(created.headers.get('location')!, server.url).href
  const answered = await Promise.race([patch(b, 0, dataB).then((r) => r.status), sleep(3_000).then(() => 'still waiting')])
  expect(answered).toBe(204)
  await expect.poll(() => assembling).toBe(true)
  expect(completed).toEqual([])
  open()
  await expect.poll(() => completed).toEqual([idOf(final)])
  const body = Buffer.from(await (await fetch(final)).arrayBuffer())
  expect(sha256(body)).toBe(sha256(Buffer.concat([dataA, dataB])))
})
