// The lock's abort signal is aborted when the waiting client goes away, however late a locker asks for it.
import { request as httpRequest } from 'node:http'
import { setTimeout as sleep } from 'node:timers/promises'
import { afterEach, describe, it } from 'vitest'
import { MemoryStore, TusError, type Lock, type LockOptions, type Locker } from 'tus-middleware'
import { startServer, type TestServer } from '../helpers/server.js'
import { TUS } from '../helpers/tus.js'

let server: TestServer | undefined
afterEach(async () => {
  await server?.close()
  server = undefined
})

/** A locker that waits until its abort signal fires, asking for the signal only after a round trip. */
function waitingLocker(onAborted: () => void): Locker {
  return {
    async lock(_id: string, options: LockOptions): Promise<Lock> {
      await sleep(150) // a distributed locker's round trip; the client leaves meanwhile
      const signal = options.signal!
      return new Promise<Lock>((_resolve, reject) => {
        const fail = () => {
          onAborted()
          reject(new TusError('UPLOAD_LOCKED'))
        }
        if (signal.aborted) return fail()
        signal.addEventListener('abort', fail, { once: true })
      })
    },
  }
}

/** HEADs an upload through `locker` and hangs up after 50 ms. */
async function headAndLeave(locker: Locker): Promise<void> {
  const store = new MemoryStore()
  server = await startServer({ store, locker })
  await store.create({ id: 'x', length: 4, metadata: {}, createdAt: new Date().toISOString() })
  const req = httpRequest(`${server.url}/x`, { method: 'HEAD', headers: TUS })
  req.on('error', () => {})
  req.end()
  await sleep(50)
  req.destroy()
}

describe('lock abort signal', () => {
  it('aborts a locker that waits once the client goes away, even if it asks for the signal late', async () => {
    let aborted!: () => void
    const gaveUp = new Promise<void>((resolve) => (aborted = resolve))
    await headAndLeave(waitingLocker(aborted))
    await gaveUp
  })

  it('reaches a locker behind a wrapper that copies the options', async () => {
    let aborted!: () => void
    const gaveUp = new Promise<void>((resolve) => (aborted = resolve))
    const inner = waitingLocker(aborted)
    await headAndLeave({ lock: (id, options) => inner.lock(id, { ...options }) })
    await gaveUp
  })
})
