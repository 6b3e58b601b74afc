/**
 * Prometheus metrics (option `metrics`): exact counts and byte totals after real requests, labels that never
 * carry an upload id, path or metadata value, store errors by operation, lock waits and the receiving gauge.
 */
import express from 'express'
import { createHash } from 'node:crypto'
import { Registry } from 'prom-client'
import { describe, expect, it } from 'vitest'
import { MemoryLocker, MemoryStore, tus, type TusOptions } from 'tus-middleware'
import { useCleanup } from '../helpers/cleanup.js'
import { createUpload, patch, send } from '../helpers/http.js'
import { InstrumentedStore } from '../helpers/instrumented-store.js'
import { patchHead, rawClient, until } from '../helpers/raw.js'
import { listen, startServer } from '../helpers/server.js'
import { idOf, OCTET, pathOf, TUS } from '../helpers/tus.js'

const defer = useCleanup()

const sha1 = (data: string) => `sha1 ${createHash('sha1').update(data).digest('base64')}`

/** One metric's samples, by their labels (JSON of the label object) -> value. */
async function samples(registry: Registry, name: string): Promise<Record<string, number>> {
  const metric = registry.getSingleMetric(name)
  if (!metric) throw new Error(`${name} is not registered`)
  const out: Record<string, number> = {}
  for (const s of (await metric.get()).values as Array<{ metricName?: string; labels: object; value: number }>) {
    out[`${s.metricName ?? name}${JSON.stringify(s.labels)}`] = s.value
  }
  return out
}

/** The value of an unlabelled counter or gauge. */
async function value(registry: Registry, name: string): Promise<number> {
  return (await samples(registry, name))[`${name}{}`]
}

/** The middleware with metrics at /files in Express; store failures reach an error handler that logs nothing. */
async function serverWith(options: TusOptions = {}) {
  const registry = new Registry()
  const uploads = tus({ store: new MemoryStore(), metrics: registry, ...options })
  const app = express()
  app.use('/files', uploads)
  app.use((_err: unknown, _req: express.Request, res: express.Response, _next: express.NextFunction) => {
    if (!res.headersSent) res.status(599).end()
  })
  const server = await listen(app, uploads)
  defer(server.close)
  return { registry, server }
}

describe('metrics', () => {
  it('counts uploads, kept bytes and requests exactly; a refused checksum and a 409 keep no bytes', async () => {
    const { registry, server } = await serverWith()
    // A creation with its first bytes (creation-with-upload) and metadata that must not show up in a label.
    const created = await send('POST', server.url, {
      headers: { ...TUS, 'Upload-Length': '10', 'Upload-Metadata': 'filename c2VjcmV0LW5hbWUudHh0', 'Content-Type': 'application/offset+octet-stream' },
      body: 'abc',
    })
    expect(created.status).toBe(201)
    const url = new URL(created.header('location'), server.url).href
    const id = idOf(url)
    expect((await patch(url, 3, 'de')).status).toBe(204)
    // A wrong sha1: 460, and the bytes are discarded.
    expect((await patch(url, 5, 'fghij', { 'Upload-Checksum': sha1('nope!') })).status).toBe(460)
    // A wrong offset: 409, nothing read.
    expect((await patch(url, 0, 'xxxxx')).status).toBe(409)
    expect((await patch(url, 5, 'fghij', { 'Upload-Checksum': sha1('fghij') })).status).toBe(204)
    expect((await send('HEAD', url, { headers: TUS })).status).toBe(200)
    expect((await send('DELETE', url, { headers: TUS })).status).toBe(204)
    expect((await send('HEAD', url, { headers: TUS })).status).toBe(404)
    // An override naming a method nobody serves is labelled "other", not with what the client sent.
    expect((await send('POST', server.url, { headers: { ...TUS, 'X-HTTP-Method-Override': 'BREW-COFFEE' } })).status).toBe(400)

    // Requests are counted when their response has ended, which the client may see a moment earlier.
    await until(async () => (await samples(registry, 'tus_requests_total'))['tus_requests_total{"method":"other","status":"400"}'] === 1)
    expect(await samples(registry, 'tus_requests_total')).toEqual({
      'tus_requests_total{"method":"POST","status":"201"}': 1,
      'tus_requests_total{"method":"PATCH","status":"204"}': 2,
      'tus_requests_total{"method":"PATCH","status":"460"}': 1,
      'tus_requests_total{"method":"PATCH","status":"409"}': 1,
      'tus_requests_total{"method":"HEAD","status":"200"}': 1,
      'tus_requests_total{"method":"HEAD","status":"404"}': 1,
      'tus_requests_total{"method":"DELETE","status":"204"}': 1,
      'tus_requests_total{"method":"other","status":"400"}': 1,
    })
    expect(await value(registry, 'tus_bytes_received_total')).toBe(10)
    expect(await value(registry, 'tus_uploads_created_total')).toBe(1)
    expect(await value(registry, 'tus_uploads_completed_total')).toBe(1)
    expect(await value(registry, 'tus_uploads_terminated_total')).toBe(1)
    expect(await value(registry, 'tus_uploads_expired_total')).toBe(0)
    expect(await value(registry, 'tus_store_errors_total')).toBeUndefined() // no failure, no series

    const durations = await samples(registry, 'tus_request_duration_seconds')
    expect(durations['tus_request_duration_seconds_count{"method":"PATCH"}']).toBe(4)
    expect(durations['tus_request_duration_seconds_count{"method":"HEAD"}']).toBe(2)
    expect(durations['tus_request_duration_seconds_count{"method":"POST"}']).toBe(1)
    expect(durations['tus_request_duration_seconds_count{"method":"DELETE"}']).toBe(1)
    expect(durations['tus_request_duration_seconds_sum{"method":"PATCH"}']).toBeGreaterThan(0)

    const text = await registry.metrics()
    expect(text).toContain('tus_bytes_received_total 10\n')
    for (const secret of [id, pathOf(url), '/files', 'secret-name', 'c2VjcmV0LW5hbWUudHh0', 'BREW']) expect(text).not.toContain(secret)
  })

  it('counts each upload event once, with and without listeners of the host, which still get every event', async () => {
    const { registry, server } = await serverWith()
    const heard: string[] = []
    // The host listens to completions only: creations and terminations are counted without a listener.
    server.uploads.on('completed', (upload) => heard.push(`completed ${upload.id} ${upload.offset}`))
    const urls = [await createUpload(server.url, { 'Upload-Length': 3 }), await createUpload(server.url, { 'Upload-Length': 2 })]
    expect((await patch(urls[0], 0, 'abc')).status).toBe(204)
    expect((await patch(urls[1], 0, 'de')).status).toBe(204)
    expect((await send('DELETE', urls[1], { headers: TUS })).status).toBe(204)
    await until(async () => (await value(registry, 'tus_uploads_terminated_total')) === 1)
    expect(await value(registry, 'tus_uploads_created_total')).toBe(2)
    expect(await value(registry, 'tus_uploads_completed_total')).toBe(2)
    expect(heard.sort()).toEqual([`completed ${idOf(urls[0])} 3`, `completed ${idOf(urls[1])} 2`].sort())
  })

  it('counts expired uploads', async () => {
    const { registry, server } = await serverWith({ expireAfter: 1, cleanupInterval: 0 })
    await createUpload(server.url, { 'Upload-Length': 5 })
    await new Promise((r) => setTimeout(r, 20))
    expect(await server.uploads.cleanup()).toHaveLength(1)
    expect(await value(registry, 'tus_uploads_expired_total')).toBe(1)
  })

  it('counts store failures by operation, but not protocol answers such as ID_TAKEN', async () => {
    const memory = new MemoryStore()
    const store = new InstrumentedStore(memory)
    const { registry, server } = await serverWith({ store, onCreate: () => ({ id: 'fixed-id' }) })
    // The host gets its own store object back, and the store's capabilities still decide what is served.
    expect(server.uploads.store).toBe(store)
    expect((await send('OPTIONS', server.url)).header('tus-extension')).toContain('termination')

    const url = await createUpload(server.url, { 'Upload-Length': 5 })
    expect((await send('POST', server.url, { headers: { ...TUS, 'Upload-Length': '5' } })).status).toBe(409)
    store.fault = { method: 'get', code: 'EIO' }
    expect((await send('HEAD', url, { headers: TUS })).status).toBe(500)
    expect((await send('HEAD', url, { headers: TUS })).status).toBe(500)
    store.fault = { method: 'write', code: 'ENOSPC', afterBytes: 2 }
    const failed = await fetch(url, { method: 'PATCH', headers: { ...TUS, ...OCTET, 'Upload-Offset': '0' }, body: 'hello' })
    expect(failed.status).toBe(500)
    store.fault = undefined

    expect(await samples(registry, 'tus_store_errors_total')).toEqual({
      'tus_store_errors_total{"operation":"get"}': 2,
      'tus_store_errors_total{"operation":"write"}': 1,
    })
    expect(await registry.metrics()).not.toContain('fixed-id')
  })

  it('times lock waits and counts lock timeouts', async () => {
    const locker = new MemoryLocker()
    const { registry, server } = await serverWith({ locker, lockTimeout: 50 })
    const url = await createUpload(server.url, { 'Upload-Length': 5 })
    const baseline = (await samples(registry, 'tus_lock_wait_seconds'))['tus_lock_wait_seconds_count{}'] ?? 0
    // Someone else holds the upload's lock (and ignores requests to let go): a HEAD waits 50 ms, then 423.
    const held = await locker.lock(idOf(url), { timeout: 1000, onReleaseRequested: () => {} })
    expect((await send('HEAD', url, { headers: TUS })).status).toBe(423)
    expect(await value(registry, 'tus_lock_timeouts_total')).toBe(1)
    // Released after 30 ms: the waiting HEAD gets it, and its wait is observed.
    await held.release()
    const held2 = await locker.lock(idOf(url), { timeout: 1000, onReleaseRequested: () => {} })
    setTimeout(() => held2.release(), 30)
    expect((await send('HEAD', url, { headers: TUS })).status).toBe(200)
    const waits = await samples(registry, 'tus_lock_wait_seconds')
    expect(waits['tus_lock_wait_seconds_count{}']).toBe(baseline + 1)
    expect(waits['tus_lock_wait_seconds_sum{}']).toBeGreaterThanOrEqual(0.025)
    expect(await value(registry, 'tus_lock_timeouts_total')).toBe(1)
  })

  it('shows requests receiving bytes right now as tus_uploads_receiving', async () => {
    const { registry, server } = await serverWith()
    const url = await createUpload(server.url, { 'Upload-Length': 10 })
    expect(await value(registry, 'tus_uploads_receiving')).toBe(0)
    const client = await rawClient(server.origin)
    defer(() => client.socket.destroy())
    await client.write(patchHead(pathOf(url), 0, 10) + 'hello')
    await until(async () => (await value(registry, 'tus_uploads_receiving')) === 1, 5000, 'the gauge to show the PATCH')
    await client.write('world')
    expect((await client.response).status).toBe(204)
    expect(await value(registry, 'tus_uploads_receiving')).toBe(0)
    expect(await value(registry, 'tus_bytes_received_total')).toBe(10)
  })

  it('lets several middlewares share one registry, adding up', async () => {
    const registry = new Registry()
    const a = await startServer({ store: new MemoryStore(), metrics: registry })
    const b = await startServer({ store: new MemoryStore(), metrics: registry })
    defer(a.close, b.close)
    await createUpload(a.url, { 'Upload-Length': 1 })
    await createUpload(b.url, { 'Upload-Length': 1 })
    expect(await value(registry, 'tus_uploads_created_total')).toBe(2)
  })

  it('refuses a metrics option that is not a Registry, naming it', () => {
    expect(() => tus({ store: new MemoryStore(), metrics: {} as never })).toThrow(/"metrics".*prom-client Registry/)
  })
})
