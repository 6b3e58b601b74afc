/**
 * Small-file I/O on plain descriptors, for FileStore's records and new data files. Each asynchronous call is
 * a thread-pool round trip, which on a busy machine costs more than the system call itself; a FileHandle
 * makes close() one too. Here a descriptor whose file has nothing left to write back (just fsynced, or
 * created empty) is closed synchronously: close(2) then only releases it.
 */
import { close, closeSync, fdatasync, fsync, open, write } from 'node:fs'

export const openFd = (path: string, flags: string | number, mode?: number): Promise<number> =>
  new Promise((resolve, reject) => open(path, flags, mode, (err, fd) => (err ? reject(err) : resolve(fd))))

/** Writes all of `data` at the file's current position (its end for a descriptor opened to append). */
export async function writeAllFd(fd: number, data: Buffer): Promise<void> {
  let done = 0
  while (done < data.length) {
    done += await new Promise<number>((resolve, reject) =>
      write(fd, data, done, data.length - done, null, (err, written) => (err ? reject(err) : resolve(written))),
    )
  }
}

/** fsync, or fdatasync when only the data (and the size) must reach the disk. */
export const syncFd = (fd: number, dataOnly = false): Promise<void> =>
  new Promise((resolve, reject) => (dataOnly ? fdatasync : fsync)(fd, (err) => (err ? reject(err) : resolve())))

/** Closes a descriptor on the thread pool (it may have data to write back). */
export const closeFd = (fd: number): Promise<void> =>
  new Promise((resolve, reject) => close(fd, (err) => (err ? reject(err) : resolve())))

/** Closes a descriptor with nothing left to write back; never throws (there is nothing left to lose). */
export function closeSettled(fd: number): void {
  try {
    closeSync(fd)
  } catch {
    // EBADF/EIO on close of a synced or empty file: the data is already where it must be.
  }
}
