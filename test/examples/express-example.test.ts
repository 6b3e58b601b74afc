// Drives examples/express as a user would: its auth, its owner checks, its completion hook, and a 50 MiB
// upload from tus-js-client in 5 MiB chunks whose stored bytes must hash equal to the source.
import { readdir, readFile } from 'node:fs/promises'
import { join } from 'node:path'
import * as tus from 'tus-js-client'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { createApp } from '../../examples/express/app.js'
import { randomData, sha256, sha256File } from '../helpers/bytes.js'
import { listen, tempDir, type TestServer } from '../helpers/server.js'

let server: TestServer
let dir: Awaited<ReturnType<typeof tempDir>>
const alice = { Authorization: 'Bearer alice-token' }
const bob = { Authorization: 'Bearer bob-token' }

beforeAll(async () => {
  dir = await tempDir('tus-example-')
  const { app, uploads } = createApp({ directory: dir.path })
  server = await listen(app, uploads)
})
afterAll(async () => {
  await server.close()
  await dir.remove()
})

function upload(data: Buffer, options: Partial<tus.UploadOptions>): Promise<string> {
  return new Promise((resolve, reject) => {
    const u = new tus.Upload(data, {
      endpoint: server.url,
      retryDelays: [],
      ...options,
      onSuccess: () => resolve(u.url!),
      onError: reject,
    })
    u.start()
  })
}

describe('examples/express', () => {
  it('refuses uploads without login, storing nothing', async () => {
    const res = await fetch(server.url, { method: 'POST', headers: { 'Tus-Resumable': '1.0.0', 'Upload-Length': '5' } })
    expect(res.status).toBe(401)
    const files = await readdir(join(dir.path, 'incoming')).catch(() => [])
    expect(files).toEqual([])
  })

  it('takes a 50 MiB upload from tus-js-client in 5 MiB chunks, files it, and lists it for its owner only', async () => {
    const data = randomData(50 * 1024 * 1024)
    const url = await upload(data, {
      headers: alice,
      chunkSize: 5 * 1024 * 1024,
      metadata: { filename: 'holiday video.mp4', filetype: 'video/mp4' },
    })
    const id = url.split('/').pop()!
    // The store holds the exact bytes...
    const stored = Buffer.from(await (await fetch(url, { headers: alice })).arrayBuffer())
    expect(stored.length).toBe(data.length)
    expect(sha256(stored)).toBe(sha256(data))
    // ...and the completion hook filed an identical copy and recorded it.
    const listed = (await (await fetch(`${server.origin}/api/uploads`, { headers: alice })).json()) as Array<{ path: string }>
    expect(listed).toEqual([expect.objectContaining({ id, owner: 'alice', filename: 'holiday video.mp4', size: data.length })])
    expect(await sha256File(listed[0].path)).toBe(sha256(data))
    const index = JSON.parse(await readFile(join(dir.path, 'index.json'), 'utf8'))
    expect(index.map((e: { id: string }) => e.id)).toContain(id)
    expect(await (await fetch(`${server.origin}/api/uploads`, { headers: bob })).json()).toEqual([])
  })

  it("refuses another user's access to an upload", async () => {
    const url = await upload(Buffer.from('private'), { headers: alice, metadata: { filename: 'p.txt' } })
    for (const method of ['HEAD', 'GET', 'DELETE']) {
      const res = await fetch(url, { method, headers: { ...bob, 'Tus-Resumable': '1.0.0' } })
      expect(res.status).toBe(403)
    }
    const head = await fetch(url, { method: 'HEAD', headers: { ...alice, 'Tus-Resumable': '1.0.0' } })
    expect(head.headers.get('upload-offset')).toBe('7')
  })
})
