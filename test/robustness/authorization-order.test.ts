// The authorize hook is asked before a request competes for an upload's lock: a request that may not touch
// the upload must never make the owner's request let go of it.
import { afterEach, expect, it } from 'vitest'
import { MemoryStore, TusError } from 'tus-middleware'
import { createUpload, patchHead, rawClient, sleep } from '../helpers/raw.js'
import { startServer, type TestServer } from '../helpers/server.js'
import { TUS } from '../helpers/tus.js'

let server: TestServer | undefined
afterEach(async () => {
  await server?.close()
  server = undefined
})

it.each(['HEAD', 'PATCH', 'DELETE'])("a stranger's %s gets 403 without cutting the owner's PATCH short", async (method) => {
  server = await startServer({
    store: new MemoryStore(),
    authorize: (_upload, req) => {
      if (req.headers['x-user'] !== 'owner') throw new TusError('FORBIDDEN')
    },
  })
  const url = await createUpload(server.url, 100)
  const owner = await rawClient(server.origin)
  await owner.write(patchHead(new URL(url).pathname, 0, 100, { 'X-User': 'owner' }))
  await owner.write(Buffer.alloc(10, 1))
  await sleep(50)
  const stranger = await fetch(url, {
    method,
    headers: { ...TUS, 'Upload-Offset': '0', 'Content-Type': 'application/offset+octet-stream' },
    body: method === 'PATCH' ? 'x' : undefined,
  })
  expect(stranger.status).toBe(403)
  await owner.write(Buffer.alloc(90, 1))
  const res = await owner.response
  expect(res.status).toBe(204)
  expect(res.headers['upload-offset']).toBe('100')
})
