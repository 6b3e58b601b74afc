/**
 * The same small upload suite for every way of mounting the middleware: create, PATCH in two chunks, HEAD,
 * GET the bytes back, DELETE. `mount` builds the host app around the middleware; `collection` is the path the
 * app serves uploads on, which every Location must start with.
 */
import type { RequestListener } from 'node:http'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { FileStore, tus, type TusMiddleware, type TusOptions } from 'tus-middleware'
import { randomData, sha256 } from '../helpers/bytes.js'
import { serve, tempDir, type Served } from '../helpers/server.js'
import { OCTET, TUS } from '../helpers/tus.js'

export interface SuiteOptions {
  /** Builds the host around the middleware. */
  mount: (uploads: TusMiddleware) => RequestListener
  /** Path of the upload collection as the app serves it, e.g. /api/files */
  collection: string
  /** Extra middleware options (the node:http host passes `path`). */
  options?: TusOptions
  /** A path outside the collection, and the status the host answers it with. */
  outside?: { path: string; status: number; body?: string }
}

export async function createUpload(url: string, length: number, headers: Record<string, string> = {}): Promise<Response> {
  return fetch(url, { method: 'POST', headers: { ...TUS, 'Upload-Length': String(length), ...headers } })
}

export async function patch(url: string, offset: number, body: Buffer): Promise<Response> {
  return fetch(url, { method: 'PATCH', headers: { ...TUS, ...OCTET, 'Upload-Offset': String(offset) }, body })
}

export function uploadSuite(label: string, suite: SuiteOptions): void {
  describe(`upload suite: ${label}`, () => {
    let served: Served
    let store: FileStore
    let dir: Awaited<ReturnType<typeof tempDir>>
    let collectionUrl: string
    let created = 0

    beforeAll(async () => {
      dir = await tempDir()
      // A real FileStore: its awaited disk I/O lets a small body arrive in full before it is read.
      store = new FileStore({ directory: dir.path })
      const uploads = tus({ store, ...suite.options })
      uploads.on('created', () => void created++)
      served = await serve(suite.mount(uploads))
      collectionUrl = `${served.origin}${suite.collection}`
    })
    afterAll(async () => {
      await served.close()
      await dir.remove()
    })

    it('answers OPTIONS with the tus version and extensions', async () => {
      const res = await fetch(collectionUrl, { method: 'OPTIONS' })
      expect(res.status).toBe(204)
      expect(res.headers.get('tus-version')).toBe('1.0.0')
      expect(res.headers.get('tus-extension')).toContain('creation')
    })

    it('creates, patches in two chunks, reports the offset, serves the bytes back, and deletes', async () => {
      const data = randomData(300_000)
      const created = await createUpload(collectionUrl, data.length, { 'Upload-Metadata': `filename ${Buffer.from('a.bin').toString('base64')}` })
      expect(created.status).toBe(201)
      const location = created.headers.get('location')!
      // The Location is absolute and sits under the path the app mounted the middleware on.
      expect(location).toMatch(new RegExp(`^${served.origin}${suite.collection}/[A-Za-z0-9_-]+$`))
      const id = location.slice(location.lastIndexOf('/') + 1)

      const half = 123_457
      const first = await patch(location, 0, data.subarray(0, half))
      expect(first.status).toBe(204)
      expect(first.headers.get('upload-offset')).toBe(String(half))

      const head = await fetch(location, { method: 'HEAD', headers: TUS })
      expect(head.status).toBe(200)
      expect(head.headers.get('upload-offset')).toBe(String(half))
      expect(head.headers.get('upload-length')).toBe(String(data.length))

      const second = await patch(location, half, data.subarray(half))
      expect(second.status).toBe(204)
      expect(second.headers.get('upload-offset')).toBe(String(data.length))

      const got = await fetch(location)
      expect(got.status).toBe(200)
      expect(sha256(Buffer.from(await got.arrayBuffer()))).toBe(sha256(data))
      expect((await store.get(id))?.completedAt).toBeDefined()

      const deleted = await fetch(location, { method: 'DELETE', headers: TUS })
      expect(deleted.status).toBe(204)
      expect((await fetch(location, { method: 'HEAD', headers: TUS })).status).toBe(404)
      expect(await store.get(id)).toBeUndefined()
    })

    it('refuses a PATCH at the wrong offset with 409 and keeps the stored bytes', async () => {
      const created = await createUpload(collectionUrl, 10)
      const location = created.headers.get('location')!
      expect((await patch(location, 0, Buffer.from('hello'))).status).toBe(204)
      const wrong = await patch(location, 0, Buffer.from('HELLO'))
      expect(wrong.status).toBe(409)
      expect(wrong.headers.get('tus-resumable')).toBe('1.0.0')
      expect((await patch(location, 5, Buffer.from('world'))).status).toBe(204)
      const got = await fetch(location)
      expect(Buffer.from(await got.arrayBuffer()).toString()).toBe('helloworld')
    })

    if (suite.outside) {
      const outside = suite.outside
      it(`leaves ${outside.path} to the host (${outside.status})`, async () => {
        const res = await fetch(`${served.origin}${outside.path}`, { method: 'POST', headers: { ...TUS, 'Upload-Length': '1' } })
        expect(res.status).toBe(outside.status)
        expect(res.headers.get('tus-resumable')).toBeNull()
        if (outside.body !== undefined) expect(await res.text()).toBe(outside.body)
        const before = created
        await new Promise((resolve) => setImmediate(resolve))
        expect(created).toBe(before)
      })
    }
  })
}
