// examples/express serves /metrics (its own prom-client registry) and /healthz (uploads.ready()).
import { writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { describe, expect, it } from 'vitest'
import { createApp } from '../../examples/express/app.js'
import { useCleanup } from '../helpers/cleanup.js'
import { listen, tempDir } from '../helpers/server.js'

const defer = useCleanup()
const alice = { Authorization: 'Bearer alice-token', 'Tus-Resumable': '1.0.0' }

async function start(prepare?: (dir: string) => Promise<void>) {
  const dir = await tempDir('tus-example-metrics-')
  await prepare?.(dir.path)
  const { app, uploads } = createApp({ directory: dir.path })
  const server = await listen(app, uploads)
  defer(dir.remove, server.close)
  return server
}

describe('examples/express: /metrics and /healthz', () => {
  it('reports ready, and serves the upload metrics in the Prometheus text format', async () => {
    const server = await start()
    const health = await fetch(`${server.origin}/healthz`)
    expect(health.status).toBe(200)
    expect(await health.json()).toEqual({ status: 'ready' })

    const created = await fetch(server.url, { method: 'POST', headers: { ...alice, 'Upload-Length': '4' } })
    expect(created.status).toBe(201)
    const url = new URL(created.headers.get('location')!, server.url).href
    const patched = await fetch(url, {
      method: 'PATCH',
      headers: { ...alice, 'Content-Type': 'application/offset+octet-stream', 'Upload-Offset': '0' },
      body: 'data',
    })
    expect(patched.status).toBe(204)

    const res = await fetch(`${server.origin}/metrics`)
    expect(res.status).toBe(200)
    expect(res.headers.get('content-type')).toMatch(/^text\/plain; version=0\.0\.4/)
    const text = await res.text()
    expect(text).toMatch(/^tus_uploads_created_total 1$/m)
    expect(text).toMatch(/^tus_uploads_completed_total 1$/m)
    expect(text).toMatch(/^tus_bytes_received_total 4$/m)
    expect(text).toMatch(/^process_cpu_user_seconds_total /m) // Node's default metrics, as prom-client documents
    expect(text).not.toContain(url.split('/').pop())
  })

  it('answers 503 when the store cannot be read', async () => {
    // The store's directory is a plain file: every lookup fails with ENOTDIR.
    const server = await start((dir) => writeFile(join(dir, 'incoming'), 'not a directory'))
    const health = await fetch(`${server.origin}/healthz`)
    expect(health.status).toBe(503)
    expect(await health.json()).toEqual({ status: 'unavailable' })
  })
})
