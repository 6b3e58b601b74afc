// tus_store_errors_total counts failing store calls of every store method, the finishing step included.
import { Registry } from 'prom-client'
import { describe, expect, it } from 'vitest'
import { MemoryStore, tus } from 'tus-middleware'
import { useCleanup } from '../helpers/cleanup.js'
import { createUpload } from '../helpers/raw.js'
import { startServer } from '../helpers/server.js'

const defer = useCleanup()

class FailingFinish extends MemoryStore {
  override async finish(): Promise<void> {
    throw Object.assign(new Error('EIO: finish failed'), { code: 'EIO' })
  }
}

describe('store error metrics', () => {
  it('counts a failing finish() in tus_store_errors_total{operation="finish"}', async () => {
    const registry = new Registry()
    const uploads = tus({ store: new FailingFinish(), metrics: registry })
    const server = await startServer(uploads)
    defer(server.close)
    const url = await createUpload(server.url, 3)
    const res = await fetch(url, { method: 'PATCH', headers: { 'Tus-Resumable': '1.0.0', 'Content-Type': 'application/offset+octet-stream', 'Upload-Offset': '0' }, body: 'abc' })
    expect(res.status).toBe(500)
    const metric = registry.getSingleMetric('tus_store_errors_total')!
    const values = (await metric.get()).values.map((v) => ({ operation: v.labels.operation, value: v.value }))
    expect(values).toEqual([{ operation: 'finish', value: 1 }])
  })
})
