// An upload whose request is receiving bytes right now is not idle, staged (checksummed) bytes included: the
// sweep leaves it alone.
import { createHash } from 'node:crypto'
import { describe, expect, it } from 'vitest'
import { MemoryStore } from 'tus-middleware'
import { useCleanup } from '../helpers/cleanup.js'
import { createUpload, rawClient, sleep } from '../helpers/raw.js'
import { startServer } from '../helpers/server.js'

const defer = useCleanup()

describe('the sweep and an upload receiving a staged body', () => {
  it('does not remove an upload whose checksummed PATCH is streaming bytes (MemoryStore)', async () => {
    const server = await startServer({ store: new MemoryStore(), expireAfter: 400, cleanupInterval: 0 })
    defer(server.close, () => server.uploads.close())
    const url = await createUpload(server.url, 20)
    const body = Buffer.from('abcdefghijklmnopqrst')
    const sum = createHash('sha1').update(body).digest('base64')
    const client = await rawClient(server.origin)
    const headers = {
      Host: 'x', 'Tus-Resumable': '1.0.0', 'Content-Type': 'application/offset+octet-stream',
      'Upload-Offset': '0', 'Transfer-Encoding': 'chunked', 'Upload-Checksum': `sha1 ${sum}`,
    }
    await client.write(`PATCH ${new URL(url).pathname} HTTP/1.1\r\n${Object.entries(headers).map(([k, v]) => `${k}: ${v}\r\n`).join('')}\r\n`)
    // A byte every 100 ms: the client never stalls longer than that.
    let removed: unknown[] = []
    for (let i = 0; i < 20; i++) {
      const sent = await client.write(`1\r\n${body.toString('latin1', i, i + 1)}\r\n`).then(() => true, () => false)
      if (!sent) break
      await sleep(100)
      if (i === 8) removed = await server.uploads.cleanup() // ~900 ms after creation, 100 ms after the last byte
    }
    await client.write('0\r\n\r\n').catch(() => {})
    const res = await client.response.catch((e) => ({ status: -1, headers: {} as Record<string, string>, body: String(e) }))
    const after = await fetch(url, { method: 'HEAD', headers: { 'Tus-Resumable': '1.0.0' } })
    expect({ removed: removed.length, patch: res.status, offset: res.headers['upload-offset'], head: after.status }).toEqual({
      removed: 0, patch: 204, offset: '20', head: 200,
    })
  })
})
