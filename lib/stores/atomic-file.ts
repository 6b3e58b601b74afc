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
  /** The directory, opened by a sync; reopened once older than KEEP_OPEN_MS, closed when idle that long. */
  handle: Promise<FileHandle>
  /** When `handle` was opened (0: open it again). */
  openedAt: number
  /** The sync in progress; undefined when idle. */
  running: Promise<void> | undefined
  /** The sync that starts once `running` is done, shared by every caller that came after `running` began. */
  next: Promise<void> | undefined
  /** Closes the handle when no sync comes in time. */
  idle: NodeJS.Timeout | undefined
}

/**
 * How long one directory handle serves syncs: a steady stream of creations shares it, and a directory
 * replaced meanwhile (renamed and made again) is synced through its new handle within this time.
 */
const KEEP_OPEN_MS = 1000

const directorySyncs = new Map<string, DirectorySync>()

/**
 * Makes a rename or a new file in `dir` durable. Concurrent callers share syncs (group commit): a caller is
 * only ever answered by a sync that began after it called, so what it did before calling is covered.
 */
export function syncDirectory(dir: string): Promise<void> {
  let entry = directorySyncs.get(dir)
  if (!entry) {
    entry = { handle: Promise.reject(new Error('not opened')), openedAt: 0, running: undefined, next: undefined, idle: undefined }
    entry.handle.catch(() => {})
    directorySyncs.set(dir, entry)
  }
  const current = entry
  if (current.running) {
    current.next ??= current.running.then(
      () => syncWith(dir, current),
      () => syncWith(dir, current),
    )
    return current.next
  }
  clearTimeout(current.idle)
  return run(dir, current, syncWith(dir, current))
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

/** One sync, through a handle no older than KEEP_OPEN_MS (never called while another sync of `entry` runs). */
function syncWith(dir: string, entry: DirectorySync): Promise<void> {
  const now = Date.now()
  if (now - entry.openedAt > KEEP_OPEN_MS) {
    entry.handle.then((fh) => fh.close()).catch(() => {})
    const handle = open(dir, 'r')
    entry.handle = handle
    entry.openedAt = now
    // A directory that could not be opened is tried again by the next sync.
    handle.catch(() => {
      if (entry.handle === handle) entry.openedAt = 0
    })
  }
  return entry.handle.then((fh) => fh.sync())
}
