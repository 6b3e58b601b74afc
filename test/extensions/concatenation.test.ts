import { describe, expect, it } from 'vitest'
import { MemoryStore, type DataStore } from 'tus-middleware'
import { randomData, sha256 } from '../helpers/bytes.js'
import { useCleanup } from '../helpers/cleanup.js'
import { createUpload, head, patch, send } from '../helpers/http.js'
import { startServer, tempFileStore, type TestServer } from '../helpers/server.js'
import { pathOf, TUS } from '../helpers/tus.js'

const defer = useCleanup()

const stores: Array<[string, () => Promise<DataStore>]> = [
  ['FileStore', async () => (await tempFileStore(defer)).store],
  ['MemoryStore', async () => new MemoryStore()],
]

async function download(url: string): Promise<Buffer> {
  const res = await send('GET', url)
  expect(res.status).toBe(200)
  return res.body
}

async function partial(server: TestServer, data: Buffer, upload = true): Promise<string> {
  const url = await createUpload(server.url, { 'Upload-Length': data.length, 'Upload-Concat': 'partial' })
  if (upload) expect((await patch(url, 0, data)).status).toBe(204)
  return url
}

for (const [name, makeStore] of stores) {
  describe(`concatenation (${name})`, () => {
    let server: TestServer
    const start = async (options = {}) => {
      server = await startServer({ store: await makeStore(), ...options })
      defer(server.close)
      return server
    }

    it('advertises concatenation and concatenation-unfinished', async () => {
      await start()
      const ext = (await send('OPTIONS', server.url)).header('tus-extension').split(',')
      expect(ext).toEqual(expect.arrayContaining(['concatenation', 'concatenation-unfinished']))
    })

    it('the spec example: "hello" + " world" = "hello world"', async () => {
      await start()
      const a = await partial(server, Buffer.from('hello'))
      const b = await partial(server, Buffer.from(' world'))
      const header = `final;${pathOf(a)} ${pathOf(b)}`
      const res = await send('POST', server.url, { headers: { ...TUS, 'Upload-Concat': header } })
      expect(res.status).toBe(201)
      const final = new URL(res.header('location'), server.url).href
      const h = await head(final)
      expect(h.header('upload-concat')).toBe(header)
      expect(h.header('upload-length')).toBe('11')
      expect(h.header('upload-offset')).toBe('11')
      expect((await download(final)).toString()).toBe('hello world')
      expect((await head(a)).header('upload-concat')).toBe('partial')
      expect((await head(a)).header('upload-offset')).toBe('5')
    })

    it('keeps the order, accepts absolute and relative URLs, and fires completed once', async () => {
      await start()
      const parts = [randomData(70_000), randomData(1), randomData(130_000)]
      const urls = await Promise.all(parts.map((p) => partial(server, p)))
      const completed: string[] = []
      server.uploads.on('completed', (u) => completed.push(u.id))
      const header = `final;${urls[2]} ${urls[0]} ${pathOf(urls[1])}`
      const res = await send('POST', server.url, {
        headers: { ...TUS, 'Upload-Concat': header, 'Upload-Metadata': 'filename YS5iaW4=' },
      })
      expect(res.status).toBe(201)
      const final = new URL(res.header('location'), server.url).href
      const expected = Buffer.concat([parts[2], parts[0], parts[1]])
      expect(sha256(await download(final))).toBe(sha256(expected))
      const h = await head(final)
      expect(h.header('upload-concat')).toBe(header)
      expect(h.header('upload-offset')).toBe(String(expected.length))
      expect(h.header('upload-metadata')).toBe('filename YS5iaW4=')
      await new Promise((r) => setTimeout(r, 20))
      // Partial uploads are pieces: only the final upload completes as a file.
      expect(completed).toEqual([final.slice(final.lastIndexOf('/') + 1)])
    })

    it('responds 403 to a PATCH on a final upload and leaves it unchanged', async () => {
      await start()
      const a = await partial(server, Buffer.from('abc'))
      const res = await send('POST', server.url, { headers: { ...TUS, 'Upload-Concat': `final;${a}` } })
      const final = new URL(res.header('location'), server.url).href
      expect((await patch(final, 3, 'xyz')).status).toBe(403)
      expect((await download(final)).toString()).toBe('abc')
    })

    const refusals: Array<[string, (s: TestServer, partialUrl: string, plainUrl: string) => Record<string, string | number>, number]> = [
      ['carrying Upload-Length', (_s, p) => ({ 'Upload-Concat': `final;${p}`, 'Upload-Length': 3 }), 400],
      ['carrying Upload-Defer-Length', (_s, p) => ({ 'Upload-Concat': `final;${p}`, 'Upload-Defer-Length': 1 }), 400],
      ['naming an unknown upload', (s, p) => ({ 'Upload-Concat': `final;${p} ${s.url}/nosuchupload` }), 400],
      ['naming a URL outside the collection', (s, p) => ({ 'Upload-Concat': `final;${p} ${s.origin}/elsewhere/x` }), 400],
      ['naming a non-partial upload', (_s, p, plain) => ({ 'Upload-Concat': `final;${p} ${plain}` }), 400],
      ['naming nothing', () => ({ 'Upload-Concat': 'final;' }), 400],
      ['with a malformed Upload-Concat', (_s, p) => ({ 'Upload-Concat': `finale;${p}` }), 400],
    ]
    for (const [what, headers, status] of refusals) {
      it(`responds ${status} to a final upload ${what}, creating nothing`, async () => {
        await start()
        const p = await partial(server, Buffer.from('abc'))
        const plain = await createUpload(server.url, { 'Upload-Length': 3 })
        const created: string[] = []
        server.uploads.on('created', (u) => created.push(u.id))
        const res = await send('POST', server.url, { headers: { ...TUS, ...headers(server, p, plain) } })
        expect(res.status).toBe(status)
        expect(res.header('location')).toBe('')
        await new Promise((r) => setTimeout(r, 10))
        expect(created).toEqual([])
      })
    }

    it('responds 400 to a final upload with a body', async () => {
      await start()
      const p = await partial(server, Buffer.from('abc'))
      const res = await send('POST', server.url, {
        headers: { ...TUS, 'Upload-Concat': `final;${p}`, 'Content-Type': 'application/offset+octet-stream' },
        body: 'abc',
      })
      expect(res.status).toBe(400)
    })

    it('applies the authorize hook to every partial a final names', async () => {
      const seen: Array<[string, string]> = []
      await start({
        authorize: async (upload: { metadata: Record<string, string>; id: string }, req: { headers: Record<string, unknown> }, action: string) => {
          seen.push([upload.id, action])
          if (upload.metadata.owner !== req.headers['x-user']) {
            const { TusError } = await import('tus-middleware')
            throw new TusError('FORBIDDEN')
          }
        },
        onCreate: async (_u: unknown, req: { headers: Record<string, unknown> }) => ({ metadata: { owner: String(req.headers['x-user']) } }),
      })
      const mine = await createUpload(server.url, { 'Upload-Length': 3, 'Upload-Concat': 'partial', 'X-User': 'me' })
      const theirs = await createUpload(server.url, { 'Upload-Length': 3, 'Upload-Concat': 'partial', 'X-User': 'them' })
      const refused = await send('POST', server.url, {
        headers: { ...TUS, 'Upload-Concat': `final;${mine} ${theirs}`, 'X-User': 'me' },
      })
      expect(refused.status).toBe(403)
      const mineId = mine.slice(mine.lastIndexOf('/') + 1)
      const theirsId = theirs.slice(theirs.lastIndexOf('/') + 1)
      expect(seen).toEqual([[mineId, 'concatenate'], [theirsId, 'concatenate']])
      const allowed = await send('POST', server.url, { headers: { ...TUS, 'Upload-Concat': `final;${mine}`, 'X-User': 'me' } })
      expect(allowed.status).toBe(201)
    })
  })
}
