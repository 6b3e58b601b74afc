/**
 * A refused request leaves the upload exactly as it was: offset, bytes and record (length included).
 */
import { describe, expect, it } from 'vitest'
import { MemoryStore } from 'tus-middleware'
import { randomData, sha256 } from '../helpers/bytes.js'
import { createUpload, headOffset, patch } from '../helpers/raw.js'
import { startServer } from '../helpers/server.js'
import { TUS } from '../helpers/tus.js'

describe('a refused PATCH on a deferred-length upload', () => {
  it.each([
    ['a body longer than the length it declares', '10', 20],
    ['a length above maxSize', '5000', 10],
    ['a length below the offset', '2', 0],
  ])('with %s leaves the length undeclared and the bytes as they were', async (_case, length, bodySize) => {
    const server = await startServer({ store: new MemoryStore(), maxSize: 1000 })
    try {
      const url = await createUpload(server.url, undefined)
      const first = randomData(5)
      expect((await patch(url, 0, first)).status).toBe(204)
      const res = await fetch(url, {
        method: 'PATCH',
        headers: { ...TUS, 'Content-Type': 'application/offset+octet-stream', 'Upload-Offset': '5', 'Upload-Length': length },
        body: randomData(bodySize),
      })
      expect(res.status).toBeGreaterThanOrEqual(400)
      expect(res.status).toBeLessThan(500)
      const head = await fetch(url, { method: 'HEAD', headers: TUS })
      expect(head.headers.get('upload-length')).toBeNull()
      expect(head.headers.get('upload-defer-length')).toBe('1')
      expect(head.headers.get('upload-offset')).toBe('5')
      expect(sha256(Buffer.from(await (await fetch(url)).arrayBuffer()))).toBe(sha256(first))
      // The client can still declare the right length and finish.
      const rest = randomData(7)
      const done = await fetch(url, {
        method: 'PATCH',
        headers: { ...TUS, 'Content-Type': 'application/offset+octet-stream', 'Upload-Offset': '5', 'Upload-Length': '12' },
        body: rest,
      })
      expect(done.status).toBe(204)
      expect(await headOffset(url)).toEqual({ status: 200, offset: 12 })
      expect(sha256(Buffer.from(await (await fetch(url)).arrayBuffer()))).toBe(sha256(Buffer.concat([first, rest])))
    } finally {
      await server.close()
    }
  })
})
