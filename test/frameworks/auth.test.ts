/**
 * The app's own auth in front of the middleware: a rejected request never reaches it, so nothing is created
 * or changed; an accepted one uploads as usual.
 */
import express, { type NextFunction, type Request, type Response } from 'express'
import { readdir } from 'node:fs/promises'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { FileStore, tus } from 'tus-middleware'
import { randomData, sha256 } from '../helpers/bytes.js'
import { tempDir } from '../helpers/server.js'
import { serve, type Served } from '../helpers/server.js'
import { OCTET, TUS } from '../helpers/tus.js'

const TOKEN = 'Bearer let-me-in'

function requireAuth(req: Request, res: Response, next: NextFunction): void {
  if (req.headers.authorization === TOKEN) return next()
  res.status(401).set('WWW-Authenticate', 'Bearer').send('login first')
}

describe('behind an auth middleware', () => {
  let served: Served
  let dir: Awaited<ReturnType<typeof tempDir>>
  let collection: string

  beforeAll(async () => {
    dir = await tempDir()
    const app = express()
    app.use('/files', requireAuth, tus({ store: new FileStore({ directory: dir.path }) }))
    served = await serve(app)
    collection = `${served.origin}/files`
  })
  afterAll(async () => {
    await served.close()
    await dir.remove()
  })

  it('answers 401 from the app to an unauthenticated POST and creates nothing', async () => {
    const res = await fetch(collection, {
      method: 'POST',
      headers: { ...TUS, 'Upload-Length': '5', 'Content-Type': 'application/offset+octet-stream' },
      body: Buffer.from('hello'),
    })
    expect(res.status).toBe(401)
    expect(await res.text()).toBe('login first')
    expect(res.headers.get('tus-resumable')).toBeNull()
    expect(await readdir(dir.path).catch(() => [])).toEqual([])
  })

  it('lets an authenticated client upload, and refuses to let an unauthenticated one touch it', async () => {
    const auth = { ...TUS, Authorization: TOKEN }
    const data = randomData(50_000)
    const created = await fetch(collection, { method: 'POST', headers: { ...auth, 'Upload-Length': String(data.length) } })
    expect(created.status).toBe(201)
    const location = created.headers.get('location')!
    expect(location).toMatch(new RegExp(`^${collection}/`))

    const octets = { ...OCTET, 'Upload-Offset': '0' }
    const stranger = await fetch(location, { method: 'PATCH', headers: { ...TUS, ...octets }, body: data })
    expect(stranger.status).toBe(401)
    expect((await fetch(location, { method: 'DELETE', headers: TUS })).status).toBe(401)

    const patched = await fetch(location, { method: 'PATCH', headers: { ...auth, ...octets }, body: data })
    expect(patched.status).toBe(204)
    expect(patched.headers.get('upload-offset')).toBe(String(data.length))
    expect((await fetch(location)).status).toBe(401)
    const got = await fetch(location, { headers: { Authorization: TOKEN } })
    expect(sha256(Buffer.from(await got.arrayBuffer()))).toBe(sha256(data))
  })
})
