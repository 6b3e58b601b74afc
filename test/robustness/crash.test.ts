/**
 * Crash safety: the server process is SIGKILLed at random moments while many uploads are in flight, and
 * restarted on the same directory each time. After every restart every known upload answers HEAD with an offset
 * whose stored bytes are exactly the source's prefix; in the end every upload is complete and byte-identical.
 */
import { existsSync } from 'node:fs'
import { readdir, readFile } from 'node:fs/promises'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { expect, it } from 'vitest'
import { randomData, sha256 } from '../helpers/bytes.js'
import { sleep } from '../helpers/raw.js'
import { TUS } from '../helpers/tus.js'
import { lastRecord } from '../../lib/stores/record-file.js'
import { useCrashDirectory, type ChildServer } from '../helpers/child-server.js'

const DIST = fileURLToPath(new URL('../../dist/esm/index.js', import.meta.url))
const KILLS = 24
const CHUNK = 128 * 1024

interface Source {
  data: Buffer
  /** The upload's path, once the server answered its creation. */
  path?: string
  complete: boolean
}

/** Requests cut short by a kill: proof that kills land mid-upload, not between uploads. */
let interrupted = 0

const dir = useCrashDirectory('tus-crash-')
const start = (): Promise<ChildServer> => dir.start()

/** The offset and stored bytes of an upload agree with its source. */
async function verify(origin: string, source: Source): Promise<number> {
  const path = source.path!
  const res = await fetch(`${origin}${path}`, { method: 'HEAD', headers: TUS })
  expect(res.status).toBe(200)
  const offset = Number(res.headers.get('upload-offset'))
  expect(res.headers.get('upload-length')).toBe(String(source.data.length))
  const stored = await readFile(join(dir.path, `${path.split('/').pop()}.bin`))
  expect(stored.length).toBe(offset)
  expect(sha256(stored)).toBe(sha256(source.data.subarray(0, offset)))
  return offset
}

/** Drives one upload as far as it gets; a killed server shows up as a fetch failure, which ends it. */
async function drive(origin: string, source: Source): Promise<void> {
  try {
    if (!source.path) {
      // Half of the uploads are created with their first chunk (creation-with-upload).
      const withBody = source.data.length % 2 === 0
      const res = await fetch(`${origin}/files`, {
        method: 'POST',
        headers: {
          ...TUS,
          'Upload-Length': String(source.data.length),
          ...(withBody ? { 'Content-Type': 'application/offset+octet-stream' } : {}),
        },
        body: withBody ? source.data.subarray(0, CHUNK) : undefined,
      })
      if (res.status !== 201) throw new Error(`POST answered ${res.status}`)
      source.path = new URL(res.headers.get('location')!).pathname
    }
    const path = source.path
    let offset = await verify(origin, source)
    while (offset < source.data.length) {
      const res = await fetch(`${origin}${path}`, {
        method: 'PATCH',
        headers: { ...TUS, 'Content-Type': 'application/offset+octet-stream', 'Upload-Offset': String(offset) },
        body: source.data.subarray(offset, offset + CHUNK),
      })
      await res.arrayBuffer()
      expect(res.status).toBe(204)
      offset = Number(res.headers.get('upload-offset'))
    }
    source.complete = true
  } catch (err) {
    if ((err as Error).name === 'AssertionError') throw err
    // The server died under this request: the next round resumes from HEAD.
    interrupted++
  }
}

it(`every upload survives ${KILLS} SIGKILLs byte-identical`, { timeout: 120_000 }, async () => {
  expect(existsSync(DIST), 'the package must be built (npm test runs the build first)').toBe(true)
  const sources: Source[] = []
  const addSources = (n: number) => {
    for (let i = 0; i < n; i++) sources.push({ data: randomData(600_000 + Math.floor(Math.random() * 1_400_000)), complete: false })
  }
  addSources(8)
  let kills = 0
  while (kills < KILLS) {
    const server = await start()
    // After every restart, every upload the client knows about answers HEAD consistently.
    for (const source of sources) if (source.path) await verify(server.origin, source)
    if (sources.every((s) => s.complete)) addSources(4)
    const work = Promise.all(sources.filter((s) => !s.complete).map((s) => drive(server.origin, s)))
    await Promise.race([work, sleep(5 + Math.random() * 60)])
    await server.kill()
    kills++
    await work
  }

  // A last run without a kill finishes everything.
  const server = await start()
  for (const source of sources) if (source.path) await verify(server.origin, source)
  await Promise.all(sources.filter((s) => !s.complete).map((s) => drive(server.origin, s)))
  for (const source of sources) {
    expect(source.complete).toBe(true)
    const res = await fetch(`${server.origin}${source.path}`)
    expect(sha256(Buffer.from(await res.arrayBuffer()))).toBe(sha256(source.data))
  }
  // Whatever a kill left behind is never a readable-but-broken record: every record file holds a whole
  // record, or none at all when its creation was cut off (never acknowledged); such an upload, like one
  // whose creation was cut between its .bin and its record, is simply not there (404), never a 500.
  for (const name of await readdir(dir.path)) {
    const recordFile = name.endsWith('.json') && !name.startsWith('.')
    const torn = recordFile && lastRecord(await readFile(join(dir.path, name), 'utf8')) === undefined
    if (torn || (name.endsWith('.bin') && !existsSync(join(dir.path, name.replace(/\.bin$/, '.json'))))) {
      const res = await fetch(`${server.origin}/files/${name.replace(/\.(bin|json)$/, '')}`, { method: 'HEAD', headers: TUS })
      expect(res.status).toBe(404)
    }
  }
  await server.kill()
  expect(kills).toBeGreaterThanOrEqual(KILLS)
  expect(interrupted).toBeGreaterThanOrEqual(KILLS / 2)
  console.log(`crash test: ${kills} kills, ${interrupted} requests cut, ${sources.length} uploads`)
})
