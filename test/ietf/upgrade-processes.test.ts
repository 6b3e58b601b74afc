/**
 * uploads.resumable() across processes: the upload's record names the route it was created on, so that the
 * append completing it is answered by that route on whichever instance serves it. Two instances here share
 * nothing but a FileStore directory (no record cache) and its lock files, as two processes would.
 */
import { createServer } from 'node:http'
import type { AddressInfo } from 'node:net'
import express from 'express'
import express4 from 'express-4'
import { describe, expect, it } from 'vitest'
import { FileLocker, FileStore, tus, type ResumableRequest, type TusMiddleware } from 'tus-middleware'
import { randomData, sha256 } from '../helpers/bytes.js'
import { useCleanup } from '../helpers/cleanup.js'
import { until } from '../helpers/raw.js'
import { serve, tempDir } from '../helpers/server.js'
import { exchange, head, wire } from './wire.js'

const defer = useCleanup()

type Seen = Array<{ instance: string; album: string; sha: string }>

/** One instance: its own tus() on the shared directory, and the upgraded route. */
function instance(directory: string, name: string, seen: Seen, flavour: 'express5' | 'express4' | 'nested' | 'named'): TusMiddleware & { app: (req: never, res: never) => void } {
  const uploads = tus({ store: new FileStore({ directory, cacheSize: 0 }), locker: new FileLocker({ directory }) })
  defer(() => uploads.close())
  const route = async (req: express.Request, res: express.Response): Promise<void> => {
    const upload = (req as unknown as ResumableRequest).upload
    if (!upload) {
      res.status(400).json({ error: 'expected a resumable upload' })
      return
    }
    const bytes = await upload.read()
    seen.push({ instance: name, album: String(req.params.album), sha: sha256(bytes) })
    res.status(201).json({ instance: name, album: req.params.album, photo: upload.id, bytes: bytes.length, sha256: sha256(bytes) })
  }
  let app
  if (flavour === 'express4') {
    app = express4()
    app.use('/files', uploads)
    app.post('/albums/:album/photos', uploads.resumable({ path: '/files' }), route as never)
  } else if (flavour === 'nested') {
    app = express()
    app.use('/files', uploads)
    const api = express.Router()
    // A route of the same path under another mount, which must not be taken for it.
    const other = express.Router()
    other.post('/albums/:album/photos', uploads.resumable({ path: '/files' }), (_req, res) => void res.status(500).json({ wrong: 'route' }))
    app.use('/other', other)
    api.post('/albums/:album/photos', uploads.resumable({ path: '/files' }), route)
    app.use('/api/v1', api)
  } else {
    app = express()
    app.use('/files', uploads)
    const mw = flavour === 'named' ? uploads.resumable({ path: '/files', name: 'album-photos' }) : uploads.resumable({ path: '/files' })
    app.post('/albums/:album/photos', mw, route)
  }
  return Object.assign(uploads, { app })
}

const pathFrom = (location: string): string => new URL(location, 'http://x').pathname

async function interruptedThenResumed(flavour: 'express5' | 'express4' | 'nested' | 'named', prefix = '') {
  const dir = await tempDir()
  defer(() => dir.remove())
  const seen: Seen = []
  const a = instance(dir.path, 'A', seen, flavour)
  const b = instance(dir.path, 'B', seen, flavour)
  const servedA = await serve(a.app as never)
  const servedB = await serve(b.app as never)
  defer(() => servedA.close(), () => servedB.close())
  const V = { 'Upload-Draft-Interop-Version': '8' }
  const data = randomData(300_000)
  const w = await wire(servedA.origin)
  await w.write(head('POST', `${prefix}/albums/42/photos`, { ...V, 'Upload-Complete': '?1', 'Content-Length': data.length, 'Content-Type': 'image/png' }))
  const [interim] = await w.waitFor((r) => r.status === 104)
  const path = pathFrom(interim.headers.location)
  const id = path.slice(path.lastIndexOf('/') + 1)
  const cut = 170_000
  await w.write(data.subarray(0, cut))
  await until(async () => (await b.store.get(id))?.offset === cut, 5000, 'bytes stored')
  w.socket.destroy()

  // Instance B has never seen this upload nor this route run.
  const headRes = await fetch(`${servedB.origin}${path}`, { method: 'HEAD', headers: V })
  expect(headRes.headers.get('upload-complete')).toBe('?0')
  const offset = Number(headRes.headers.get('upload-offset'))
  expect(offset).toBe(cut)
  const { response } = await exchange(servedB.origin, 'PATCH', path, {
    ...V, 'Content-Type': 'application/partial-upload', 'Upload-Offset': offset, 'Upload-Complete': '?1',
  }, data.subarray(offset))
  return { response, seen, data, id }
}

describe('uploads.resumable() across processes', () => {
  it.each(['express5', 'express4', 'named'] as const)('%s: the route on another instance answers the completing append', async (flavour) => {
    const { response, seen, data, id } = await interruptedThenResumed(flavour)
    expect(response.status).toBe(201)
    expect(response.headers['upload-complete']).toBe('?1')
    expect(JSON.parse(response.body)).toEqual({ instance: 'B', album: '42', photo: id, bytes: data.length, sha256: sha256(data) })
    expect(seen).toEqual([{ instance: 'B', album: '42', sha: sha256(data) }])
  })

  it('finds the route under a nested router by its mount path', async () => {
    const { response, seen, data } = await interruptedThenResumed('nested', '/api/v1')
    expect(response.status).toBe(201)
    expect(JSON.parse(response.body)).toMatchObject({ instance: 'B', album: '42', sha256: sha256(data) })
    expect(seen).toEqual([{ instance: 'B', album: '42', sha: sha256(data) }])
  })

  it('node:http with a named handler: every instance registers it at start-up', async () => {
    const dir = await tempDir()
    defer(() => dir.remove())
    const seen: string[] = []
    const start = async (label: string) => {
      const uploads = tus({ path: '/files', store: new FileStore({ directory: dir.path, cacheSize: 0 }), locker: new FileLocker({ directory: dir.path }) })
      defer(() => uploads.close())
      const photos = uploads.resumable({
        name: 'photos',
        handler: async (req, res) => {
          const upload = (req as ResumableRequest).upload!
          const bytes = await upload.read()
          seen.push(`${label}:${sha256(bytes)}`)
          const body = `${label} ${sha256(bytes)}`
          res.writeHead(200, { 'Content-Type': 'text/plain', 'Content-Length': body.length }).end(body)
        },
      })
      const server = createServer((req, res) => (req.url!.startsWith('/files') ? uploads(req, res) : photos(req, res)))
      await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
      defer(() => new Promise<void>((resolve) => { server.closeAllConnections(); server.close(() => resolve()) }))
      return { origin: `http://127.0.0.1:${(server.address() as AddressInfo).port}`, uploads }
    }
    const a = await start('A')
    const b = await start('B')
    const V = { 'Upload-Draft-Interop-Version': '6' }
    const data = randomData(3000)
    const first = await exchange(a.origin, 'POST', '/photos', { ...V, 'Upload-Complete': '?0', 'Upload-Length': 3000 }, data.subarray(0, 1000))
    expect(first.response.status).toBe(201)
    const path = pathFrom(first.response.headers.location)
    expect((await b.uploads.store.get(path.slice(7)))?.route).toMatchObject({ key: 'photos', method: 'POST', url: '/photos' })
    const last = await exchange(b.origin, 'PATCH', path, { ...V, 'Content-Type': 'application/partial-upload', 'Upload-Offset': 1000, 'Upload-Complete': '?1' }, data.subarray(1000))
    expect(last.response.status).toBe(200)
    expect(last.response.headers['upload-complete']).toBe('?1')
    expect(last.response.body).toBe(`B ${sha256(data)}`)
    expect(seen).toEqual([`B:${sha256(data)}`])
  })

  it('refuses a second handler under a name already taken', () => {
    const uploads = tus({ path: '/files', store: new FileStore({ directory: '/tmp/unused-tus-dir' }) })
    defer(() => uploads.close())
    const handler = () => {}
    uploads.resumable({ handler })
    expect(() => uploads.resumable({ handler })).not.toThrow()
    expect(() => uploads.resumable({ handler: () => {} })).toThrow(/name/)
    expect(() => uploads.resumable({ name: 'other', handler: () => {} })).not.toThrow()
    expect(() => uploads.resumable({ name: '' })).toThrow(/name/)
  })
})
