import { expect, it } from 'vitest'
import { FileStore, MemoryStore } from 'tus-middleware'
import { useCleanup } from '../helpers/cleanup.js'
import { send } from '../helpers/http.js'
import { startServer, tempDir, type TestServer } from '../helpers/server.js'

const defer = useCleanup()

async function extensions(server: TestServer): Promise<string> {
  defer(server.close, () => server.uploads.close())
  return (await send('OPTIONS', server.url)).header('tus-extension')
}

it('advertises every tus 1.0 extension with FileStore and expireAfter', async () => {
  const dir = await tempDir()
  defer(dir.remove)
  const server = await startServer({ store: new FileStore({ directory: dir.path }), expireAfter: 60_000 })
  expect(await extensions(server)).toBe(
    'creation,creation-with-upload,creation-defer-length,termination,checksum,checksum-trailer,' +
      'concatenation,concatenation-unfinished,expiration',
  )
})

it('leaves out expiration without expireAfter', async () => {
  expect(await extensions(await startServer({ store: new MemoryStore() }))).toBe(
    'creation,creation-with-upload,creation-defer-length,termination,checksum,checksum-trailer,concatenation,concatenation-unfinished',
  )
})

it('ignores Upload-Concat when the store cannot concatenate (the extension is not advertised)', async () => {
  const base = new MemoryStore()
  const store = Object.assign(Object.create(base), { capabilities: ['termination', 'read'] })
  const server = await startServer({ store })
  expect(await extensions(server)).not.toContain('concatenation')
  const res = await send('POST', server.url, { headers: { 'Tus-Resumable': '1.0.0', 'Upload-Concat': 'final;/files/a' } })
  expect(res.status).toBe(400) // no Upload-Length: an ordinary creation request missing its length
})
