/**
 * Store failures (disk full, permission denied): the client gets a 5xx without internals, the app gets
 * next(err), and the upload is not corrupted: once the fault is gone it resumes and completes byte-identical.
 */
import express from 'express'
import { readFile } from 'node:fs/promises'
import { join } from 'node:path'
import { describe, expect, it } from 'vitest'
import { FileStore, MemoryLocker, tus } from 'tus-middleware'
import { randomData, sha256 } from '../helpers/bytes.js'
import { useCleanup } from '../helpers/cleanup.js'
import { InstrumentedStore } from '../helpers/instrumented-store.js'
import { createUpload, headOffset, patch } from '../helpers/raw.js'
import { listen, tempDir } from '../helpers/server.js'
import { OCTET, TUS } from '../helpers/tus.js'

const defer = useCleanup()

async function setup() {
  const dir = await tempDir()
  const store = new InstrumentedStore(new FileStore({ directory: dir.path }))
  const locker = new MemoryLocker()
  const uploads = tus({ store, locker })
  const appErrors: unknown[] = []
  const app = express()
  app.use('/files', uploads)
  app.use((err: unknown, _req: express.Request, res: express.Response, _next: express.NextFunction) => {
    appErrors.push(err)
    if (!res.headersSent) res.status(599).end()
  })
  const server = await listen(app, uploads)
  defer(dir.remove, server.close)
  const stored = (url: string) => readFile(join(dir.path, `${url.split('/').pop()}.bin`))
  return { store, locker, server, appErrors, stored }
}

/** The body and headers a client saw carry none of the failure's internals. */
/** PATCHes all of `data` from offset 0, leaving the response body unread for expectOpaque5xx. */
const patchAll = (url: string, data: Buffer): Promise<Response> =>
  fetch(url, { method: 'PATCH', headers: { ...TUS, ...OCTET, 'Upload-Offset': '0' }, body: data })

async function expectOpaque5xx(res: Response): Promise<void> {
  expect(res.status).toBeGreaterThanOrEqual(500)
  expect(res.status).toBeLessThan(600)
  const text = await res.text()
  const everything = text + JSON.stringify([...res.headers])
  for (const secret of ['ENOSPC', 'EACCES', 'simulated', '/srv/secret', '.bin', 'Error']) {
    expect(everything).not.toContain(secret)
  }
  expect(res.headers.get('tus-resumable')).toBe('1.0.0')
}

describe.each(['ENOSPC', 'EACCES'])('a store failing with %s', (code) => {
  it('mid-PATCH: 500, next(err), the bytes before the fault kept, then the upload resumes', async () => {
    const { store, locker, server, appErrors, stored } = await setup()
    const data = randomData(300_000)
    const url = await createUpload(server.url, data.length)
    store.fault = { method: 'write', afterBytes: 100_000, code }
    const res = await patchAll(url, data)
    await expectOpaque5xx(res)
    await expect.poll(() => appErrors.length).toBe(1)
    expect((appErrors[0] as NodeJS.ErrnoException).code).toBe(code)
    expect(locker.size).toBe(0)

    store.fault = undefined
    const { offset } = await headOffset(url)
    expect(offset).toBe(100_000)
    expect(sha256(await stored(url))).toBe(sha256(data.subarray(0, offset)))
    expect((await patch(url, offset, data.subarray(offset))).status).toBe(204)
    expect(sha256(await stored(url))).toBe(sha256(data))
  })

  it.each(['create', 'get', 'update'] as const)('in %s(): 500, next(err), nothing half-done', async (method) => {
    const { store, server, appErrors, stored } = await setup()
    const data = randomData(1000)
    // update() runs when the last byte lands (completedAt); create() and get() on POST and HEAD.
    const url = method === 'create' ? undefined : await createUpload(server.url, data.length)
    store.fault = { method, code }
    let res: Response
    if (method === 'create') {
      res = await fetch(server.url, { method: 'POST', headers: { ...TUS, 'Upload-Length': '1000' } })
    } else if (method === 'get') {
      res = await fetch(url!, { method: 'HEAD', headers: TUS })
    } else {
      res = await patchAll(url!, data)
    }
    await expectOpaque5xx(res)
    await expect.poll(() => appErrors.length).toBe(1)
    expect((appErrors[0] as NodeJS.ErrnoException).code).toBe(code)
    store.fault = undefined
    if (method === 'create') {
      expect(await createUpload(server.url, 10)).toMatch(/\/files\/[0-9a-f]{32}$/)
      return
    }
    // The bytes were stored before completion failed: the next HEAD completes the upload.
    const head = await headOffset(url!)
    expect(head.status).toBe(200)
    if (head.offset < data.length) expect((await patch(url!, head.offset, data.subarray(head.offset))).status).toBe(204)
    expect(sha256(await stored(url!))).toBe(sha256(data))
  })
})

it('a hook throwing a plain Error: 500 without its message, next(err) with it', async () => {
  const dir = await tempDir()
  const hookErrors: unknown[] = []
  const uploads = tus({
    store: new FileStore({ directory: dir.path }),
    onCreate() {
      throw new Error('database password hunter2 at /etc/app/config.json')
    },
  })
  const app = express()
  app.use('/files', uploads)
  app.use((err: unknown, _req: express.Request, _res: express.Response, _next: express.NextFunction) => hookErrors.push(err))
  const server = await listen(app, uploads)
  defer(dir.remove, server.close)
  const res = await fetch(server.url, { method: 'POST', headers: { ...TUS, 'Upload-Length': '5' } })
  expect(res.status).toBe(500)
  const text = await res.text()
  expect(text).toBe('Internal server error\n')
  expect(JSON.stringify([...res.headers])).not.toMatch(/hunter2|config|Error/)
  await expect.poll(() => hookErrors.length).toBe(1)
  expect((hookErrors[0] as Error).message).toContain('hunter2')
})
