/**
 * FileStore's record files (<id>.json): one JSON record per line, the last complete line being the record.
 * A record is created by writing its file once and changed by appending a line, so an upload costs one inode
 * for its record for its whole life, and no change frees one (on ext4 without a journal, every inode freed
 * makes file creations scan past it for minutes: replacing a record file per completion was what small
 * uploads cost most).
 *
 * Durability is that of a temp file renamed into place: a line is fsynced before the change is reported done
 * (FileStore leaves out only a completion's without syncWrites, see there). A crash while writing leaves a
 * last line cut short; it does not parse and is ignored, so the record is the one before (or, for a record
 * cut off while being created, none: that creation was never acknowledged). Appending rewrites no byte of the
 * earlier lines. After MAX_LINES lines the file is rewritten (temp file, fsync, rename) to the record alone.
 */
import { constants } from 'node:fs'
import { unlink } from 'node:fs/promises'
import { dirname } from 'node:path'
import { syncDirectory, writeFileAtomic } from './atomic-file.js'
import { closeFd, closeSettled, openFd, syncFd, writeAllFd } from './descriptors.js'

/** Lines a record file may hold before it is rewritten to one. */
export const MAX_LINES = 8

export interface RecordText {
  /** The record's line (without the newline). */
  text: string
  /** The record's parsed value. */
  record: unknown
  /** Lines in the file. */
  lines: number
}

/** The record in a record file's content: its last line that is a whole JSON object; undefined if none. */
export function lastRecord(content: string): RecordText | undefined {
  const lines = content.split('\n')
  let count = 0
  for (const line of lines) if (line !== '') count++
  for (let i = lines.length - 1; i >= 0; i--) {
    const text = lines[i]
    if (text === '') continue
    try {
      const record: unknown = JSON.parse(text)
      if (record !== null && typeof record === 'object' && !Array.isArray(record)) return { text, record, lines: count }
    } catch {
      // A line cut short by a crash: the record is an earlier line.
    }
  }
  return undefined
}

/** Writes a new record file (replacing any leftover of a creation that never completed), durably. */
export async function createRecordFile(path: string, text: string): Promise<void> {
  const fd = await openFd(path, 'w', 0o600)
  try {
    await writeAllFd(fd, Buffer.from(`${text}\n`))
    // The content and the new name must both survive a crash. Synced together (a journaling file system
    // commits both at once): a crash between the two leaves a name without a whole line, which the reader
    // takes for no record, as it is: the creation was never acknowledged. Both settle before the descriptor
    // is closed, so that no sync can land on a file that reused its number.
    const [file, directory] = await Promise.allSettled([syncFd(fd), syncDirectory(dirname(path))])
    if (file.status === 'rejected') throw file.reason
    if (directory.status === 'rejected') throw directory.reason
  } catch (err) {
    closeSettled(fd)
    await unlink(path).catch(() => {})
    throw err
  }
  closeSettled(fd)
}

/**
 * Records a change: appends `text` as a new line (fsynced when `sync`), or rewrites the file to it (always
 * durably) once it holds MAX_LINES. Returns the number of lines the file holds afterwards.
 */
export async function appendRecord(path: string, text: string, lines: number, sync: boolean): Promise<number> {
  if (lines >= MAX_LINES) {
    await writeFileAtomic(path, `${text}\n`)
    return 1
  }
  // No O_CREAT: a record removed meanwhile is not brought back.
  const fd = await openFd(path, constants.O_WRONLY | constants.O_APPEND)
  try {
    // The leading newline ends a last line that a crash cut short, which would otherwise swallow this one.
    await writeAllFd(fd, Buffer.from(`\n${text}\n`))
    if (sync) await syncFd(fd, true)
  } catch (err) {
    // What reached the file is a line the reader ignores if cut short.
    await closeFd(fd).catch(() => {})
    throw err
  }
  // Unsynced, the line may still have to be written back on close (a network file system): not on the
  // event loop, and a failure there is the change's.
  if (sync) closeSettled(fd)
  else await closeFd(fd)
  return lines + 1
}
