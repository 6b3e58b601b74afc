// A 405 carries Allow (RFC 9110, 15.5.6) naming what the URL really serves: with a store that lacks termination
// and read, an upload URL serves HEAD, PATCH and OPTIONS only, and a DELETE there is a 405 that says so.
import { describe, expect, it } from 'vitest'
import { MemoryStore, tus } from 'tus-middleware'
import { useCleanup } from '../helpers/cleanup.js'
import { createUpload } from '../helpers/raw.js'
import { startServer } from '../helpers/server.js'

const defer = useCleanup()

class CoreOnly extends MemoryStore {
  override readonly capabilities = [] as const
}

describe('Allow on 405', () => {
  it('answers 405 with an Allow that lists only the methods served (store without termination/read)', async () => {
    const server = await startServer(tus({ store: new CoreOnly() }))
    defer(server.close)
    const url = await createUpload(server.url, 5)
    const del = await fetch(url, { method: 'DELETE', headers: { 'Tus-Resumable': '1.0.0' } })
    const post = await fetch(url, { method: 'POST', headers: { 'Tus-Resumable': '1.0.0' } })
    expect({ del: del.status, delAllow: del.headers.get('allow'), post: post.status, postAllow: post.headers.get('allow') }).toEqual({
      del: 405, delAllow: 'HEAD, PATCH, OPTIONS', post: 405, postAllow: 'HEAD, PATCH, OPTIONS',
    })
  })
})
