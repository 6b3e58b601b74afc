import express from 'express'
import request from 'supertest'
import { describe, expect, it, vi } from 'vitest'
import { MemoryStore, TusError, tus, type Upload } from 'tus-middleware'
import { makeApp } from '../helpers/app.js'
import { OCTET, pathOf, TUS } from '../helpers/tus.js'

describe('onCreate', () => {
  it('sees the draft upload and the request, and may replace id and metadata', async () => {
    const seen: Array<Readonly<Upload>> = []
    const { app, uploads } = makeApp({
      onCreate(upload, req) {
        seen.push(upload)
        return { id: `user-${req.headers['x-user']}-1`, metadata: { ...upload.metadata, owner: String(req.headers['x-user']) } }
      },
    })
    const res = await request(app).post('/files').set(TUS).set('X-User', 'ann').set('Upload-Length', '3')
      .set('Upload-Metadata', 'filename YS50eHQ=').expect(201)
    expect(res.headers.location.endsWith('/files/user-ann-1')).toBe(true)
    expect(seen[0]).toMatchObject({ offset: 0, length: 3, metadata: { filename: 'a.txt' } })
    expect(await uploads.store.get('user-ann-1')).toMatchObject({ metadata: { filename: 'a.txt', owner: 'ann' } })
    // The same id again is taken.
    await request(app).post('/files').set(TUS).set('X-User', 'ann').set('Upload-Length', '3').expect(409)
  })

  it('refuses with the TusError it throws, creating nothing', async () => {
    const { app, uploads } = makeApp({
      onCreate() {
        throw new TusError('QUOTA', 'Storage quota exceeded', 507)
      },
    })
    const created = vi.fn()
    uploads.on('created', created)
    const res = await request(app).post('/files').set(TUS).set('Upload-Length', '3').expect(507)
    expect(res.text).toBe('Storage quota exceeded\n')
    expect(res.headers['tus-resumable']).toBe('1.0.0')
    expect(created).not.toHaveBeenCalled()
  })

  it('rejects an unsafe id chosen by the hook', async () => {
    const { app } = makeApp({ onCreate: () => ({ id: '../escape' }) })
    await request(app).post('/files').set(TUS).set('Upload-Length', '3').expect(400)
  })
})

describe('authorize', () => {
  it('is asked for every action on an existing upload, and its TusError reaches the client', async () => {
    const actions: string[] = []
    const { app } = makeApp({
      authorize(_upload, req, action) {
        actions.push(action)
        if (req.headers['x-user'] !== 'owner') throw new TusError('FORBIDDEN')
      },
    })
    const path = pathOf((await request(app).post('/files').set(TUS).set('Upload-Length', '3').expect(201)).headers.location)
    const owner = { ...TUS, 'X-User': 'owner' }
    const thief = { ...TUS, 'X-User': 'thief' }
    await request(app).head(path).set(thief).expect(403)
    await request(app).patch(path).set(thief).set(OCTET).set('Upload-Offset', '0').send(Buffer.from('abc')).expect(403)
    await request(app).get(path).set(thief).expect(403)
    await request(app).delete(path).set(thief).expect(403)
    await request(app).head(path).set(owner).expect(200).expect('Upload-Offset', '0')
    await request(app).patch(path).set(owner).set(OCTET).set('Upload-Offset', '0').send(Buffer.from('abc')).expect(204)
    expect(actions).toEqual(['head', 'patch', 'get', 'delete', 'head', 'patch'])
  })
})

describe('onComplete', () => {
  it('is awaited before the final response', async () => {
    let finished = false
    const { app } = makeApp({
      async onComplete(upload) {
        await new Promise((r) => setTimeout(r, 50))
        finished = upload.offset === 3
      },
    })
    const path = pathOf((await request(app).post('/files').set(TUS).set('Upload-Length', '3').expect(201)).headers.location)
    await request(app).patch(path).set(TUS).set(OCTET).set('Upload-Offset', '0').send(Buffer.from('abc')).expect(204)
    expect(finished).toBe(true)
  })

  it('refusing leaves the upload unfinished; a later request completes it, and completed fires once', async () => {
    let refuse = true
    const { app, uploads } = makeApp({
      onComplete() {
        if (refuse) throw new TusError('VIRUS', 'Rejected by the virus scanner', 422)
      },
    })
    const completed = vi.fn()
    uploads.on('completed', completed)
    const path = pathOf((await request(app).post('/files').set(TUS).set('Upload-Length', '3').expect(201)).headers.location)
    const res = await request(app).patch(path).set(TUS).set(OCTET).set('Upload-Offset', '0').send(Buffer.from('abc')).expect(422)
    expect(res.text).toBe('Rejected by the virus scanner\n')
    expect(completed).not.toHaveBeenCalled()
    refuse = false
    await request(app).head(path).set(TUS).expect(200).expect('Upload-Offset', '3')
    await request(app).head(path).set(TUS).expect(200)
    await request(app).patch(path).set(TUS).set(OCTET).set('Upload-Offset', '3').send(Buffer.alloc(0)).expect(204)
    expect(completed).toHaveBeenCalledTimes(1)
    expect((await uploads.store.get(path.split('/').pop()!))?.completedAt).toBeTypeOf('string')
  })

  it('turns a plain Error into a generic 500 and hands it to next(err)', async () => {
    const uploads = tus({
      store: new MemoryStore(),
      onComplete() {
        throw new Error('secret internal detail /var/lib/x')
      },
    })
    const seen: unknown[] = []
    const app = express()
    app.use('/files', uploads)
    app.use((err: unknown, _req: express.Request, _res: express.Response, next: express.NextFunction) => {
      seen.push(err)
      next(err)
    })
    const path = pathOf((await request(app).post('/files').set(TUS).set('Upload-Length', '1').expect(201)).headers.location)
    const res = await request(app).patch(path).set(TUS).set(OCTET).set('Upload-Offset', '0').send(Buffer.from('a')).expect(500)
    expect(res.text).toBe('Internal server error\n')
    expect(res.text).not.toContain('secret')
    await vi.waitFor(() => expect(seen).toHaveLength(1))
    expect((seen[0] as Error).message).toContain('secret internal detail')
  })
})

describe('events', () => {
  it('emits created, progress and completed with the upload shape, after the response', async () => {
    const { app, uploads } = makeApp({ progressInterval: 0 })
    const log: Array<[string, Readonly<Upload>]> = []
    for (const name of ['created', 'progress', 'completed'] as const) uploads.on(name, (u) => log.push([name, u]))
    const res = await request(app).post('/files').set(TUS).set('Upload-Length', '6').set('Upload-Metadata', 'k dg==').expect(201)
    const path = pathOf(res.headers.location)
    await request(app).patch(path).set(TUS).set(OCTET).set('Upload-Offset', '0').send(Buffer.from('abc')).expect(204)
    await request(app).patch(path).set(TUS).set(OCTET).set('Upload-Offset', '3').send(Buffer.from('def')).expect(204)
    const names = log.map(([n]) => n)
    expect(names[0]).toBe('created')
    expect(names.at(-1)).toBe('completed')
    expect(names.filter((n) => n === 'completed')).toHaveLength(1)
    const last = log.at(-1)![1]
    expect(last).toMatchObject({ offset: 6, length: 6, metadata: { k: 'v' } })
    expect(Object.isFrozen(last)).toBe(true)
    const progress = log.filter(([n]) => n === 'progress').map(([, u]) => u.offset)
    expect(progress).toContain(3)
    expect(progress).toContain(6)
  })

  it('survives listeners that throw or reject, and reports them on listenerError', async () => {
    const { app, uploads } = makeApp()
    const errors: string[] = []
    uploads.on('created', () => {
      throw new Error('sync boom')
    })
    uploads.on('created', async () => {
      throw new Error('async boom')
    })
    const after = vi.fn()
    uploads.on('created', after)
    uploads.on('listenerError', (err, event) => errors.push(`${event}: ${(err as Error).message}`))
    await request(app).post('/files').set(TUS).set('Upload-Length', '1').expect(201)
    await request(app).post('/files').set(TUS).set('Upload-Length', '1').expect(201)
    await vi.waitFor(() => expect(errors).toHaveLength(4))
    expect(errors).toContain('created: sync boom')
    expect(errors).toContain('created: async boom')
    expect(after).toHaveBeenCalledTimes(2)
  })

  it('supports once and off, and chains', async () => {
    const { app, uploads } = makeApp()
    const once = vi.fn()
    const removed = vi.fn()
    expect(uploads.once('created', once).on('created', removed)).toBe(uploads)
    uploads.off('created', removed)
    await request(app).post('/files').set(TUS).set('Upload-Length', '1').expect(201)
    await request(app).post('/files').set(TUS).set('Upload-Length', '1').expect(201)
    expect(once).toHaveBeenCalledTimes(1)
    expect(removed).not.toHaveBeenCalled()
    expect(uploads.listenerCount('created')).toBe(0)
  })
})
