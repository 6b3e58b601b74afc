// PartWriter's state writes during a write follow a monotonic clock: a wall clock stepped back (an NTP step)
// must not stop them until the write ends. No S3 needed: the store is a stub.
import { afterEach, expect, it, vi } from 'vitest'
import { PartWriter, type PartWriterStore } from '../../lib/s3/part-writer.js'
import type { Loaded, State } from '../../lib/s3/state.js'

const MiB = 1024 * 1024
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms))

afterEach(() => {
  vi.restoreAllMocks()
})

it('keeps writing the state about once a second while parts end, though the wall clock steps back a minute', async () => {
  const saves: number[] = []
  class Command {
    constructor(readonly input: unknown) {}
  }
  const store: PartWriterStore = {
    s3: {
      bucket: 'b',
      sdk: { CreateMultipartUploadCommand: Command, PutObjectCommand: Command },
      bytesCommand: (c: unknown) => c,
      send: async () => ({ UploadId: 'm' }),
      uploadPart: async (_id: string, _key: string, _mpu: string, n: number) => `"e${n}"`,
      deleteQuietly: async () => {},
    } as never,
    partConcurrency: 2,
    key: (id) => id,
    tailKey: (id) => `${id}/tail`,
    save: async (_id, loaded) => void saves.push(loaded.state.parts.length),
    allocate: (n) => Buffer.alloc(n),
  }
  const state: State = { v: 1, upload: { id: 'u', metadata: {}, createdAt: '' } as never, partSize: 5 * MiB, parts: [] }
  const loaded: Loaded = { state }
  const wall = Date.now.bind(Date)
  let skew = 0
  vi.spyOn(Date, 'now').mockImplementation(() => wall() + skew)
  async function* body(): AsyncGenerator<Buffer> {
    yield Buffer.alloc(5 * MiB)
    await sleep(50)
    skew = -60_000
    for (let i = 0; i < 6; i++) {
      await sleep(500)
      yield Buffer.alloc(5 * MiB)
    }
    await sleep(500)
  }
  const writing = new PartWriter(store, 'u', loaded, 0, {}).write(body())
  await sleep(3000)
  // The first part's write, then about one a second: at least three while parts keep ending.
  expect(saves.length).toBeGreaterThanOrEqual(3)
  expect(await writing).toBe(7 * 5 * MiB)
  expect(saves.at(-1)).toBe(7)
})
