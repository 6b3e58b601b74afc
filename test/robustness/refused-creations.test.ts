// A creation that is refused leaves nothing behind and announces nothing: the client never learnt its URL.
import { createHash } from 'node:crypto'
import { afterEach, describe, expect, it } from 'vitest'
import { MemoryStore, TusError, type Upload } from 'tus-middleware'
import { createUpload } from '../helpers/raw.js'
import { startServer, type TestServer } from '../helpers/server.js'
import { TUS } from '../helpers/tus.js'

let server: TestServer | undefined
afterEach(async () => {
  await server?.close()
  server = undefined
})

async function stored(store: MemoryStore): Promise<Upload[]> {
  const all: Upload[] = []
  for await (const upload of store.list()) all.push(upload)
  return all
}

describe('refused creations', () => {
  it('a zero-length upload whose onComplete refuses: no upload, no created event', async () => {
    const store = new MemoryStore()
    server = await startServer({ store, onComplete: () => { throw new TusError('FORBIDDEN') } })
    const created: Upload[] = []
    server.uploads.on('created', (u) => created.push(u))
    const res = await fetch(server.url, { method: 'POST', headers: { ...TUS, 'Upload-Length': '0' } })
    expect(res.status).toBe(403)
    expect(res.headers.get('location')).toBeNull()
    expect(created).toEqual([])
    expect(await stored(store)).toEqual([])
  })

  it('a final upload whose onComplete refuses: no final upload, no created event', async () => {
    const store = new MemoryStore()
    server = await startServer({ store, onComplete: () => { throw new TusError('FORBIDDEN') } })
    const part = await createUpload(server.url, 0, { 'Upload-Concat': 'partial' })
    const created: Upload[] = []
    server.uploads.on('created', (u) => created.push(u))
    const res = await fetch(server.url, { method: 'POST', headers: { ...TUS, 'Upload-Concat': `final;${new URL(part).pathname}` } })
    expect(res.status).toBe(403)
    expect(created).toEqual([])
    expect((await stored(store)).map((u) => u.concat?.type)).toEqual(['partial'])
  })

  it('a creation-with-upload whose checksum fails emits no progress and no created event', async () => {
    server = await startServer({ store: new MemoryStore(), progressInterval: 0 })
    const events: string[] = []
    for (const name of ['created', 'progress', 'completed'] as const) server.uploads.on(name, () => events.push(name))
    const body = Buffer.alloc(4 * 1024 * 1024, 7)
    const wrong = createHash('sha1').update('something else').digest('base64')
    const res = await fetch(server.url, {
      method: 'POST',
      headers: { ...TUS, 'Upload-Length': String(body.length), 'Content-Type': 'application/offset+octet-stream', 'Upload-Checksum': `sha1 ${wrong}` },
      body,
    })
    expect(res.status).toBe(460)
    await new Promise((r) => setTimeout(r, 20))
    expect(events).toEqual([])
  })

  it('a successful creation-with-upload emits created before progress', async () => {
    server = await startServer({ store: new MemoryStore(), progressInterval: 0 })
    const events: string[] = []
    for (const name of ['created', 'progress', 'completed'] as const) server.uploads.on(name, () => events.push(name))
    const body = Buffer.alloc(2 * 1024 * 1024, 7)
    const res = await fetch(server.url, {
      method: 'POST',
      headers: { ...TUS, 'Upload-Length': String(body.length * 2), 'Content-Type': 'application/offset+octet-stream' },
      body,
    })
    expect(res.status).toBe(201)
    await expect.poll(() => events).toEqual(['created', 'progress'])
  })
})
