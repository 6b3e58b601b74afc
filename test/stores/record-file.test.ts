// FileStore's record files: created once, changed by appending lines; a line cut short by a crash is ignored.
import { readdir, readFile, symlink, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { afterEach, beforeEach, describe, expect, it } from 'vitest'
import { FileStore } from 'tus-middleware'
import { appendRecord, createRecordFile, lastRecord, MAX_LINES } from '../../lib/stores/record-file.js'
import { tempDir } from '../helpers/server.js'

let dir: Awaited<ReturnType<typeof tempDir>>
beforeEach(async () => {
  dir = await tempDir()
})
afterEach(() => dir.remove())

describe('lastRecord', () => {
  it('is the last line that is a whole JSON object', () => {
    expect(lastRecord('{"v":1}\n\n{"v":2}\n')).toMatchObject({ record: { v: 2 }, text: '{"v":2}', lines: 2 })
  })

  it('ignores a last line cut short by a crash, and a record file holding no whole line is no record', () => {
    expect(lastRecord('{"v":1}\n\n{"v":2,"na')?.record).toEqual({ v: 1 })
    expect(lastRecord('{"id":"a","len')).toBeUndefined()
    expect(lastRecord('')).toBeUndefined()
    expect(lastRecord('\n\n')).toBeUndefined()
    // JSON that is not an object is not a record either.
    expect(lastRecord('{"v":1}\n\n[1]\n')?.record).toEqual({ v: 1 })
  })

  it('reads a record written as one line without a newline', () => {
    expect(lastRecord('{"id":"a"}')?.record).toEqual({ id: 'a' })
  })
})

describe('record files', () => {
  it('append after a line cut short starts a line of its own', async () => {
    const path = join(dir.path, 'a.json')
    await createRecordFile(path, '{"v":1}')
    await writeFile(path, '{"v":2,"cut', { flag: 'a' }) // a crash mid-append
    expect(await appendRecord(path, '{"v":3}', 2, true)).toBe(3)
    expect(lastRecord(await readFile(path, 'utf8'))?.record).toEqual({ v: 3 })
  })

  it(`is rewritten to the record alone once it holds ${MAX_LINES} lines`, async () => {
    const path = join(dir.path, 'b.json')
    await createRecordFile(path, '{"v":0}')
    let lines = 1
    for (let v = 1; v <= MAX_LINES; v++) lines = await appendRecord(path, `{"v":${v}}`, lines, true)
    expect(lines).toBe(1)
    expect(await readFile(path, 'utf8')).toBe(`{"v":${MAX_LINES}}\n`)
    expect((await readdir(dir.path)).sort()).toEqual(['b.json']) // no temp file left
  })

  it('an append to a removed record fails and does not bring it back', async () => {
    const path = join(dir.path, 'gone.json')
    await expect(appendRecord(path, '{"v":1}', 1, true)).rejects.toMatchObject({ code: 'ENOENT' })
    expect(await readdir(dir.path)).toEqual([])
  })
})

describe('FileStore records on disk', () => {
  const draft = { id: 'up', length: 10, metadata: { name: 'a.txt' }, createdAt: new Date(0).toISOString() }

  it('creation writes one line; each update appends one; a restarted store reads the last', async () => {
    const store = new FileStore({ directory: dir.path })
    await store.create({ ...draft, length: undefined })
    await store.update('up', { length: 10 })
    await store.update('up', { completedAt: '2026-01-01T00:00:00.000Z' })
    const lines = (await readFile(join(dir.path, 'up.json'), 'utf8')).split('\n').filter(Boolean)
    expect(lines).toHaveLength(3)
    // The modification time is the data file's, never stored in the record.
    expect(JSON.parse(lines[2])).toEqual({ ...draft, completedAt: '2026-01-01T00:00:00.000Z' })
    const restarted = new FileStore({ directory: dir.path })
    expect(await restarted.get('up')).toMatchObject({ length: 10, completedAt: '2026-01-01T00:00:00.000Z', offset: 0 })
  })

  it('an upload whose record file holds no whole line (creation cut off) does not exist', async () => {
    await writeFile(join(dir.path, 'torn.bin'), '')
    await writeFile(join(dir.path, 'torn.json'), '{"id":"torn","le')
    const store = new FileStore({ directory: dir.path })
    expect(await store.get('torn')).toBeUndefined()
    const listed = []
    for await (const upload of store.list()) listed.push(upload.id)
    expect(listed).toEqual([])
  })

  it('an update of a record whose last change was cut off by a crash keeps the earlier record', async () => {
    const store = new FileStore({ directory: dir.path })
    await store.create(draft)
    await writeFile(join(dir.path, 'up.json'), '\n{"id":"up","length":99,"meta', { flag: 'a' })
    const restarted = new FileStore({ directory: dir.path })
    expect((await restarted.get('up'))?.length).toBe(10)
    await restarted.update('up', { completedAt: '2026-01-01T00:00:00.000Z' })
    expect(await new FileStore({ directory: dir.path }).get('up')).toMatchObject({ length: 10, completedAt: '2026-01-01T00:00:00.000Z' })
  })

  it('a record file naming another id is not that id\'s record (two names for one file)', async () => {
    const store = new FileStore({ directory: dir.path })
    await store.create(draft)
    // As on a case-insensitive file system, where UP.json is up.json.
    await symlink(join(dir.path, 'up.json'), join(dir.path, 'UP.json'))
    await symlink(join(dir.path, 'up.bin'), join(dir.path, 'UP.bin'))
    expect(await store.get('UP')).toBeUndefined()
    expect(await new FileStore({ directory: dir.path }).get('UP')).toBeUndefined()
    expect((await store.get('up'))?.id).toBe('up')
  })
})
