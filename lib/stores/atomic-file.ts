/**
 * Durable small-file writes: temp file, fsync, rename, fsync of the directory. A crash at any moment leaves
 * either the old content or the new one, never a half-written file.
 */
import { randomBytes } from 'node:crypto'
import { open, rename, unlink, type FileHandle } from 'node:fs/promises'
import { basename, dirname, join } from 'node:path'

export async function writeFileAtomic(path: string, data: string): Promise<void> {
  const dir = dirname(path)
  // Leading dot: never a valid upload id, so a temp file cannot collide with one.
  const tmp = join(dir, `.${basename(path)}.${randomBytes(6).toString('hex')}.tmp`)
  const fh = await open(tmp, 'wx', 0o600)
  try {
    await fh.writeFile(data)
    await fh.sync()
  } catch (err) {
    await fh.close().catch(() => {})
    await unlink(tmp).catch(() => {})
    throw err
  }
  await fh.close()
  try {
    await rename(tmp, path)
  } catch (err) {
    await unlink(tmp).catch(() => {})
    throw err
  }
  await syncDirectory(dir)
}

interface DirectorySync {
  /** The directory, opened once for a run of back-to-back syncs and closed when the run ends. */
  handle: Promise<FileHandle>
  /** The sync in progress. */
  running: Promise<void>
  /** The sync that starts once `running` is done, shared by every caller that came after `running` began. */
  next: Promise<void> | undefined
}

const directorySyncs = new Map<string, DirectorySync>()

/**
 * Makes a rename or a new file in `dir` durable. Concurrent callers share syncs (group commit): a caller is
 * only ever answered by a sync that began after it called, so what it did before calling is covered. (The
 * directory handle is opened by the first sync of a run; the directory being replaced during that run is
 * not supported, as it is not for the store's other files.)
 */
export function syncDirectory(dir: string): Promise<void> {
  const current = directorySyncs.get(dir)
  if (current) {
    current.next ??= current.running.then(
      () => syncWith(current),
      () => syncWith(current),
    )
    return current.next
  }
  const handle = open(dir, 'r')
  const entry: DirectorySync = { handle, running: handle.then((fh) => fh.sync()), next: undefined }
  directorySyncs.set(dir, entry)
  const advance = (): void => {
    if (entry.next) {
      entry.running = entry.next
      entry.next = undefined
      entry.running.then(advance, advance)
      return
    }
    directorySyncs.delete(dir)
    entry.handle.then((fh) => fh.close()).catch(() => {})
  }
  entry.running.then(advance, advance)
  return entry.running
}

const syncWith = (entry: DirectorySync): Promise<void> => entry.handle.then((fh) => fh.sync())
