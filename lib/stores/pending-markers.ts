/**
 * Provisional writes of a FileStore (a checksummed request whose bytes are not verified yet). Before such a
 * write, `<id>.pending` records the offset it started at; it is removed once the bytes are verified (or cut
 * back). A marker found when the store starts belongs to a process that died mid-request: the data file is
 * cut back to it, so unverified bytes never count in an offset. Cost per checksummed request: one tiny file
 * created and one removed (plus fsyncs with syncWrites); the bytes themselves are written once.
 */
import createDebug from 'debug'
import { open, opendir, readFile, unlink, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { syncDirectory } from './atomic-file.js'
import { isValidId } from './ids.js'

const debug = createDebug('tus-middleware:store:file')

const isMissing = (err: unknown): boolean => (err as NodeJS.ErrnoException)?.code === 'ENOENT'

export class PendingMarkers {
  /** Provisional writes in progress in this process: id -> the offset they started at. */
  private readonly active = new Map<string, number>()
  private recovery: Promise<void> | undefined
  /** recover() has finished: no need to wait for it. */
  recovered = false

  constructor(
    private readonly directory: string,
    private readonly markerPath: (id: string) => string,
    private readonly dataPath: (id: string) => string,
    private readonly sync: boolean,
  ) {}

  /** Where the provisional write in progress on `id` started; undefined when there is none. */
  startOf(id: string): number | undefined {
    return this.active.get(id)
  }

  async mark(id: string, offset: number): Promise<void> {
    this.active.set(id, offset)
    const path = this.markerPath(id)
    if (!this.sync) return writeFile(path, String(offset), { mode: 0o600 })
    const fh = await open(path, 'w', 0o600)
    try {
      await fh.writeFile(String(offset))
      await fh.sync()
    } finally {
      await fh.close()
    }
    await syncDirectory(this.directory)
  }

  /** Ends the provisional write on `id`, if any (its bytes are verified, or were cut back). */
  async clear(id: string): Promise<void> {
    if (!this.active.has(id)) return
    await unlink(this.markerPath(id)).catch((err) => {
      if (!isMissing(err)) throw err
    })
    this.active.delete(id)
  }

  /** Once per store: drops the unverified bytes of requests a dead process left behind. */
  recover(): Promise<void> {
    this.recovery ??= this.recoverAll().then(
      () => {
        this.recovered = true
      },
      (err) => {
        this.recovery = undefined
        throw err
      },
    )
    return this.recovery
  }

  private async recoverAll(): Promise<void> {
    let dir
    try {
      dir = await opendir(this.directory)
    } catch (err) {
      if (isMissing(err)) return
      throw err
    }
    for await (const entry of dir) {
      if (!entry.name.endsWith('.pending') || entry.name.startsWith('.')) continue
      const id = entry.name.slice(0, -'.pending'.length)
      if (!isValidId(id) || this.active.has(id)) continue
      const start = Number(await readFile(join(this.directory, entry.name), 'utf8'))
      if (Number.isSafeInteger(start) && start >= 0) {
        const fh = await open(this.dataPath(id), 'r+').catch(() => undefined)
        if (fh) await fh.truncate(start).finally(() => fh.close())
        debug('dropped unverified bytes of %s past %d', id, start)
      }
      await unlink(join(this.directory, entry.name)).catch(() => {})
    }
  }
}
