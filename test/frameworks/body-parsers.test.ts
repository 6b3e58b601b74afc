/**
 * Body parsers mounted app-wide in front of the middleware. Parsers limited to their own media types leave
 * tus bodies alone; one that reads every body leaves nothing to store, and the middleware says so.
 */
import bodyParser from 'body-parser'
import connect from 'connect'
import express from 'express'
import express4 from 'express-4'
import type { RequestListener } from 'node:http'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { MemoryStore, tus } from 'tus-middleware'
import { serve, type Served } from '../helpers/server.js'
import { TUS } from '../helpers/tus.js'
import { createUpload, patch, uploadSuite } from './upload-suite.js'

uploadSuite('Express 5 behind express.json(), urlencoded(), text() and raw()', {
  mount: (uploads) => {
    const app = express()
    app.use(express.json(), express.urlencoded({ extended: false }), express.text(), express.raw())
    app.post('/echo', (req, res) => void res.json(req.body))
    app.use('/files', uploads)
    return app
  },
  collection: '/files',
})

uploadSuite('Express 4 behind bodyParser.json(), urlencoded(), text() and raw()', {
  mount: (uploads) => {
    const app = express4()
    app.use(express4.json(), express4.urlencoded({ extended: false }), express4.text(), express4.raw())
    app.use('/files', uploads)
    return app
  },
  collection: '/files',
})

uploadSuite('Connect behind body-parser json()', {
  mount: (uploads) => {
    const app = connect()
    app.use(bodyParser.json())
    app.use('/files', uploads)
    return app as unknown as RequestListener
  },
  collection: '/files',
})

const eaters: Array<[string, () => RequestListener & { use: Function }]> = [
  ['Express 5 express.raw({ type: "*/*" })', () => express().use(express.raw({ type: '*/*' })) as never],
  ['Express 4 express.raw({ type: "*/*" })', () => express4().use(express4.raw({ type: '*/*' })) as never],
  ['Express 5 express.text({ type: "*/*" })', () => express().use(express.text({ type: '*/*' })) as never],
]

describe.each(eaters)('behind %s, which reads every body', (_label, makeApp) => {
  let served: Served
  let store: MemoryStore
  let created = 0

  beforeAll(async () => {
    store = new MemoryStore()
    const uploads = tus({ store })
    uploads.on('created', () => void created++)
    const app = makeApp()
    app.use('/files', uploads)
    served = await serve(app)
  })
  afterAll(() => served.close())

  it('answers a PATCH whose body was eaten with a clear 500 and leaves the offset at 0', async () => {
    const location = (await createUpload(`${served.origin}/files`, 10)).headers.get('location')!
    const res = await patch(location, 0, Buffer.from('helloworld'))
    expect(res.status).toBe(500)
    expect(res.headers.get('tus-resumable')).toBe('1.0.0')
    expect(await res.text()).toMatch(/consumed before the upload middleware/)
    const head = await fetch(location, { method: 'HEAD', headers: TUS })
    expect(head.headers.get('upload-offset')).toBe('0')
  })

  it('refuses a creation-with-upload whose body was eaten, creating nothing', async () => {
    const before = created
    const res = await fetch(`${served.origin}/files`, {
      method: 'POST',
      headers: { ...TUS, 'Upload-Length': '5', 'Content-Type': 'application/offset+octet-stream' },
      body: Buffer.from('hello'),
    })
    expect(res.status).toBe(500)
    expect(await res.text()).toMatch(/consumed before the upload middleware/)
    expect(res.headers.get('location')).toBeNull()
    await new Promise((resolve) => setImmediate(resolve))
    expect(created).toBe(before)
  })
})
