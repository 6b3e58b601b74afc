// A crash while a final upload is assembled leaves its temp file (`.<id>.concat.tmp`, up to the final's whole
// size); removing the final removes it too.
import { readdir, stat } from 'node:fs/promises'
import { join } from 'node:path'
import { afterEach, describe, expect, it } from 'vitest'
import { startChildServer, type ChildServer } from '../helpers/child-server.js'
import { tempDir } from '../helpers/server.js'

const TUS = { 'Tus-Resumable': '1.0.0' }
const OCT = { 'Content-Type': 'application/offset+octet-stream' }
let server: ChildServer | undefined
let dir: Awaited<ReturnType<typeof tempDir>> | undefined
afterEach(async () => {
  await server?.kill()
  await dir?.remove()
})

describe('a crash during concatenation', () => {
  it('leaves no temp file of a final behind once the final is deleted after a crash mid-assembly', async () => {
    dir = await tempDir('tus-concat-crash-')
    server = await startChildServer(dir.path)
    const SIZE = 48 * 1024 * 1024
    const parts: string[] = []
    for (let i = 0; i < 4; i++) {
      const r = await fetch(server.url, { method: 'POST', headers: { ...TUS, ...OCT, 'Upload-Length': String(SIZE), 'Upload-Concat': 'partial' }, body: Buffer.alloc(SIZE, i) })
      expect(r.status).toBe(201)
      parts.push(new URL(r.headers.get('location')!).pathname)
    }
    const final = fetch(server.url, { method: 'POST', headers: { ...TUS, 'Upload-Concat': `final;${parts.join(' ')}` } }).catch(() => undefined)
    // Kill as soon as the assembly has started writing.
    let tmp: string | undefined
    for (let t = 0; t < 5000; t++) {
      tmp = (await readdir(dir.path)).find((n) => n.endsWith('.concat.tmp'))
      if (tmp && (await stat(join(dir.path, tmp)).catch(() => ({ size: 0 }))).size > 16 * 1024 * 1024) break
      await new Promise((r) => setTimeout(r, 1))
    }
    expect(tmp).toBeDefined()
    await server.kill()
    await final
    const finalId = tmp!.slice(1, -'.concat.tmp'.length)
    server = await startChildServer(dir.path)
    const del = await fetch(`${server.url}/${finalId}`, { method: 'DELETE', headers: TUS })
    expect(del.status).toBe(204)
    const left = (await readdir(dir.path)).filter((n) => n.includes(finalId))
    const sizes = await Promise.all(left.map(async (n) => `${n} (${(await stat(join(dir!.path, n))).size} bytes)`))
    expect(sizes).toEqual([])
  }, 60_000)
})
