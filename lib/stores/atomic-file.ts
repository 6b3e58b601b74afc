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
  /** The directory, opened by the first sync and closed once no sync came for KEEP_OPEN_MS. */
  handle: Promise<FileHandle>
  /** The sync in progress; undefined when idle. */
  running: Promise<void> | undefined
  /** The sync that starts once `running` is done, shared by every caller that came after `running` began. */
  next: Promise<void> | undefined
  /** Closes the handle when no sync comes in time. */
  idle: NodeJS.Timeout | undefined
}

/** How long a directory stays open after its last sync, for the next one (a steady stream of creations). */
const KEEP_OPEN_MS = 1000

const directorySyncs = new Map<string, DirectorySync>()

/**
 * Makes a rename or a new file in `dir` durable. Concurrent callers share syncs (group commit): a caller is
 * only ever answered by a sync that began after it called, so what it did before calling is covered. (The
 * directory handle is kept open between syncs that come close together; the directory being replaced
 * meanwhile is not supported, as it is not for the store's other files.)
 */
export function syncDirectory(dir: string): Promise<void> {
  let entry = directorySyncs.get(dir)
  if (!entry) {
    const created: DirectorySync = { handle: open(dir, 'r'), running: undefined, next: undefined, idle: undefined }
    // A directory that could not be opened is tried again by the next sync.
    created.handle.catch(() => {
      if (directorySyncs.get(dir) === created) directorySyncs.delete(dir)
    })
    directorySyncs.set(dir, created)
    entry = created
  }
  const { running } = entry
  if (running) {
    const current = entry
    current.next ??= running.then(
      () => syncWith(current),
      () => syncWith(current),
    )
    return current.next
  }
  clearTimeout(entry.idle)
  return run(dir, entry, syncWith(entry))
}

function run(dir: string, entry: DirectorySync, sync: Promise<void>): Promise<void> {
  entry.running = sync
  const advance = (): void => {
    const { next } = entry
    entry.next = undefined
    if (next) {
      run(dir, entry, next)
      return
    }
    entry.running = undefined
    entry.idle = setTimeout(() => {
      if (directorySyncs.get(dir) === entry) directorySyncs.delete(dir)
      entry.handle.then((fh) => fh.close()).catch(() => {})
    }, KEEP_OPEN_MS).unref()
  }
  sync.then(advance, advance)
  return sync
}

const syncWith = (entry: DirectorySync): Promise<void> => entry.handle.then((fh) => fh.sync())
