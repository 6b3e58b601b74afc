/**
 * uploads.resumable(): an app's own upload route upgraded to a resumable upload. A conventional request works
 * as before; one with Upload-Complete: ?1 gets a 104 pointing to the tus() collection, and when its connection
 * drops the client finishes on the upload URL, where the append that completes the upload gets the route's
 * own response, the route having seen the same bytes.
 */
import { createHash } from 'node:crypto'
import express from 'express'
import { describe, expect, it } from 'vitest'
import { MemoryStore, tus, type ResumableRequest } from 'tus-middleware'
import { randomData, sha256 } from '../helpers/bytes.js'
import { useCleanup } from '../helpers/cleanup.js'
import { until } from '../helpers/raw.js'
import { serve } from '../helpers/server.js'
import { exchange, head, wire } from './wire.js'

const defer = useCleanup()

async function app(versions?: number[]) {
  const store = new MemoryStore()
  const uploads = tus({ store, ...(versions ? { resumableDrafts: versions } : {}) })
  const seen: Array<{ via: string; sha: string; params: unknown; metadata?: unknown }> = []
  const a = express()
  a.use('/files', uploads)
  a.post('/albums/:album/photos', uploads.resumable({ path: '/files' }), async (req, res) => {
    const upload = (req as ResumableRequest).upload
    if (upload) {
      const bytes = await upload.read()
      seen.push({ via: 'upload', sha: sha256(bytes), params: req.params, metadata: upload.metadata })
      res.status(201).json({ album: req.params.album, photo: upload.id, bytes: bytes.length, sha256: sha256(bytes) })
      return
    }
    // A conventional upload: the route reads the body itself.
    const hash = createHash('sha256')
    let n = 0
    for await (const chunk of req) {
      hash.update(chunk as Buffer)
      n += (chunk as Buffer).length
    }
    const sha = hash.digest('hex')
    seen.push({ via: 'body', sha, params: req.params })
    res.status(201).json({ album: req.params.album, bytes: n, sha256: sha })
  })
  const served = await serve(a)
  defer(() => served.close(), () => uploads.close())
  return { ...served, store, uploads, seen }
}

const pathFrom = (location: string): string => new URL(location, 'http://x').pathname

describe('uploads.resumable()', () => {
  it('leaves a conventional request to the route', async () => {
    const server = await app()
    const data = randomData(10_000)
    const res = await fetch(`${server.origin}/albums/7/photos`, { method: 'POST', body: data })
    expect(res.status).toBe(201)
    expect(await res.json()).toEqual({ album: '7', bytes: data.length, sha256: sha256(data) })
    expect(server.seen).toEqual([{ via: 'body', sha: sha256(data), params: { album: '7' } }])
  })

  it('answers a whole upgraded upload with the route, which gets it on req.upload', async () => {
    const server = await app()
    const data = randomData(20_000)
    const { interim, response } = await exchange(server.origin, 'POST', '/albums/7/photos', {
      'Upload-Draft-Interop-Version': '6', 'Upload-Complete': '?1', 'Content-Type': 'image/jpeg',
      'Content-Disposition': 'inline; filename="cat.jpg"',
    }, data)
    expect(interim).toHaveLength(1)
    expect(interim[0].status).toBe(104)
    expect(pathFrom(interim[0].headers.location)).toMatch(/^\/files\/[^/]+$/)
    expect(response.status).toBe(201)
    const body = JSON.parse(response.body)
    expect(body).toMatchObject({ album: '7', bytes: data.length, sha256: sha256(data) })
    expect(server.seen[0]).toMatchObject({ via: 'upload', params: { album: '7' }, metadata: { filetype: 'image/jpeg', filename: 'cat.jpg' } })
  })

  it.each([5, 6, 8])('interop %i: a connection cut mid-body is resumed on the upload URL, and the route answers the completing append', async (version) => {
    const server = await app()
    const V = { 'Upload-Draft-Interop-Version': String(version) }
    const data = randomData(200_000)
    const w = await wire(server.origin)
    await w.write(head('POST', '/albums/42/photos', { ...V, 'Upload-Complete': '?1', 'Content-Length': data.length, 'Content-Type': 'image/png' }))
    const [interim] = await w.waitFor((r) => r.status === 104)
    const url = new URL(pathFrom(interim.headers.location), server.origin).href
    const id = url.slice(url.lastIndexOf('/') + 1)
    const cut = 120_000
    await w.write(data.subarray(0, cut))
    await until(async () => (await server.store.get(id))?.offset === cut, 5000, 'bytes stored')
    w.socket.destroy()
    expect(server.seen).toEqual([])

    const headRes = await fetch(url, { method: 'HEAD', headers: V })
    expect(headRes.headers.get('upload-complete')).toBe('?0')
    const offset = Number(headRes.headers.get('upload-offset'))
    expect(offset).toBe(cut)
    const { response } = await exchange(server.origin, 'PATCH', pathFrom(url), {
      ...V, ...(version >= 5 ? { 'Content-Type': 'application/partial-upload' } : {}), 'Upload-Offset': offset, 'Upload-Complete': '?1',
    }, data.subarray(offset))
    // The route's own response, marked as the end of the upload (draft-6 §4.4.2).
    expect(response.status).toBe(201)
    expect(response.headers['upload-complete']).toBe('?1')
    expect(response.headers['content-type']).toMatch(/^application\/json/)
    expect(JSON.parse(response.body)).toEqual({ album: '42', photo: id, bytes: data.length, sha256: sha256(data) })
    expect(server.seen).toEqual([{ via: 'upload', sha: sha256(data), params: { album: '42' }, metadata: { filetype: 'image/png' } }])
  })

  it('answers Upload-Complete: ?0 itself with 201 and Location; the route answers the last append', async () => {
    const server = await app()
    const V = { 'Upload-Draft-Interop-Version': '8' }
    const data = randomData(3000)
    const first = await exchange(server.origin, 'POST', '/albums/1/photos', { ...V, 'Upload-Complete': '?0', 'Upload-Length': 3000 }, data.subarray(0, 1000))
    expect(first.response.status).toBe(201)
    expect(first.response.headers['upload-complete']).toBe('?0')
    expect(first.response.headers['upload-limit']).toBe('min-size=0')
    const path = pathFrom(first.response.headers.location)
    const last = await exchange(server.origin, 'PATCH', path, { ...V, 'Content-Type': 'application/partial-upload', 'Upload-Offset': 1000, 'Upload-Complete': '?1' }, data.subarray(1000))
    expect(last.response.status).toBe(201)
    expect(JSON.parse(last.response.body)).toMatchObject({ album: '1', sha256: sha256(data) })
  })

  it('passes a draft version not served to the route as a conventional upload', async () => {
    const server = await app([8])
    const data = randomData(100)
    const { interim, response } = await exchange(server.origin, 'POST', '/albums/3/photos', { 'Upload-Draft-Interop-Version': '6', 'Upload-Complete': '?1' }, data)
    expect(interim).toEqual([])
    expect(JSON.parse(response.body)).toEqual({ album: '3', bytes: 100, sha256: sha256(data) })
  })

  it('needs to know the collection path', () => {
    const uploads = tus({ store: new MemoryStore() })
    defer(() => uploads.close())
    expect(() => uploads.resumable()).toThrow(/path/)
    expect(() => uploads.resumable({ path: 'files' })).toThrow(/path/)
  })
})
