/**
 * FileStore's idle listing also reclaims what a killed process left behind: a data or links file whose record a
 * removal had already deleted, and an assembly's temp file, once nothing has written them for as long as an
 * upload takes to expire. Fresh ones (a creation or an assembly in progress) and live uploads' files stay.
 */
import { readdir, utimes, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { afterEach, expect, it } from 'vitest'
import { FileStore } from 'tus-middleware'
import { tempDir } from '../helpers/server.js'

const dirs: Array<{ remove(): Promise<void> }> = []
afterEach(async () => {
  while (dirs.length) await dirs.pop()!.remove()
})

it('removes orphaned files idle since the given date, and nothing else', async () => {
  const dir = await tempDir()
  dirs.push(dir)
  const store = new FileStore({ directory: dir.path })
  await store.create({ id: 'live', length: 10, metadata: {}, createdAt: new Date().toISOString() })
  const old = new Date(Date.now() - 3_600_000)
  for (const name of ['gone.bin', 'gone.links', '.final.concat.tmp', 'fresh.bin', '.busy.concat.tmp']) {
    await writeFile(join(dir.path, name), 'x')
  }
  for (const name of ['gone.bin', 'gone.links', '.final.concat.tmp', 'live.bin', 'live.json']) {
    await utimes(join(dir.path, name), old, old)
  }
  const idle = []
  for await (const upload of store.idle(Date.now() - 60_000)) idle.push(upload.id)
  expect(idle).toEqual(['live'])
  expect((await readdir(dir.path)).sort()).toEqual(['.busy.concat.tmp', 'fresh.bin', 'live.bin', 'live.json'])
})
