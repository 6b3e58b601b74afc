/**
 * The durable default store. Each upload is two files in one directory:
 *   <id>.bin   the bytes received so far; its size IS the offset, so the offset can never claim a byte
 *              that is not on disk, whatever moment the process dies at;
 *   <id>.json  the record (length, metadata, dates): written once, changed by appending a line (see
 *              record-file.ts); fsynced before a change is reported done (a completion: with syncWrites).
 * The .bin file is created first and exclusively, so an id is taken once; a .bin without a .json (a crash
 * during creation) is not an upload.
 *
 * A provisional write (a checksummed request, not verified yet) first leaves `<id>.pending` holding the offset
 * it started at; commit() removes it, truncate() cuts back and removes it. A marker found when the store
 * starts belongs to a process that died mid-request: the .bin is cut back to it. Cost per checksummed request:
 * one tiny file created and one unlinked (plus fsyncs with syncWrites), no extra copy of the bytes.
 * Concatenation copies the parts into a hidden temp file that is renamed over the .bin: all or nothing.
 */
import createDebug from 'debug'
import { mkdir, open, opendir, readFile, rename, stat, unlink } from 'node:fs/promises'
import { join, resolve, sep } from 'node:path'
import type { Readable } from 'node:stream'
import { TusError } from '../errors.js'
import type { NewUpload, Upload } from '../upload.js'
import { syncDirectory, writeFileAtomic } from './atomic-file.js'
import { batches, writeAll } from './batches.js'
import { closeSettled, openFd } from './descriptors.js'
import { PendingMarkers } from './pending-markers.js'
import type { ByteRange, DataStore, StoreCapability, UploadChanges, WriteOptions } from './data-store.js'
import { isValidId } from './ids.js'
import { copyRecord, RecordCache, type StoredRecord } from './record-cache.js'
import { appendRecord, createRecordFile, lastRecord, MAX_LINES } from './record-file.js'

const debug = createDebug('tus-middleware:store:file')

export interface FileStoreOptions {
  /** Where uploads are kept; created (with parents) when missing. */
  directory: string
  /**
   * fsync each request's bytes before it is acknowledged, so acknowledged bytes survive a power loss or an
   * OS crash too. Off by default: without it, acknowledged bytes survive any crash of the process (they are
   * in the OS's page cache), and the offset after a power loss is still exact, only possibly smaller.
   */
  syncWrites?: boolean
  /**
   * How many uploads to keep in memory: the record (the .json file) and the size and modification time of
   * the .bin file as this process last wrote it, so that HEAD and PATCH make no system call to know them;
   * 0 turns the cache off. Default 10000 (a few MB at most). The offset is always the .bin file's size: the
   * cache holds the size this process left it at, and a crash empties it. The cache assumes this process
   * is the only one changing the directory: with several processes (or machines) serving one directory,
   * set 0, or a process may answer from what another one has since changed (a stale offset, length,
   * completion date, expiry or metadata).
   */
  cacheSize?: number
}

/** Bytes gathered for one write, and the longest a received chunk waits for more (see batches.ts). */
const WRITE_BATCH = 512 * 1024
const GATHER_MS = 2

/**
 * A change that only records completion is fsynced with syncWrites alone, like the bytes it marks: a
 * completion is then never durable before the last bytes are, and without syncWrites it survives any crash
 * of the process (it is in the page cache) while a power loss may undo it, as it may shorten the bytes: the
 * upload is then found complete again later and onComplete runs again, never skipped.
 */
const onlyCompletion = (changes: UploadChanges): boolean =>
  changes.completedAt !== undefined && changes.length === undefined && changes.metadata === undefined

/** A modification time as an ISO date, rounded to the millisecond as fs.Stats dates are. */
const isoDate = (ms: number): string => new Date(Math.round(ms)).toISOString()

const isMissing = (err: unknown): boolean => (err as NodeJS.ErrnoException)?.code === 'ENOENT'

export class FileStore implements DataStore {
  readonly capabilities: readonly StoreCapability[] = ['termination', 'read', 'concatenation', 'expiration']
  readonly directory: string
  /** The directory with a trailing separator. */
  private readonly prefix: string
  private readonly syncWrites: boolean
  private readonly cache: RecordCache
  private ready: Promise<unknown> | undefined
  /** Provisional (checksummed, not yet verified) writes and their crash recovery. */
  private readonly pending: PendingMarkers

  constructor(options: FileStoreOptions) {
    if (!options || typeof options.directory !== 'string' || options.directory === '') {
      throw new TypeError('FileStore: option "directory" must be a non-empty string')
    }
    this.directory = resolve(options.directory)
    this.prefix = this.directory.endsWith(sep) ? this.directory : this.directory + sep
    this.syncWrites = options.syncWrites ?? false
    const cacheSize = options.cacheSize ?? 10_000
    if (!Number.isSafeInteger(cacheSize) || cacheSize < 0) {
      throw new TypeError('FileStore: option "cacheSize" must be an integer >= 0')
    }
    this.cache = new RecordCache(cacheSize)
    this.pending = new PendingMarkers(this.directory, (id) => this.path(id, 'pending'), (id) => this.path(id, 'bin'), this.syncWrites)
  }

  async create(upload: NewUpload): Promise<Upload> {
    await this.init()
    try {
      // Empty: closing it has nothing to write back.
      closeSettled(await openFd(this.path(upload.id, 'bin'), 'wx', 0o600))
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'EEXIST') throw new TusError('ID_TAKEN')
      throw err
    }
    const mtimeMs = Date.now()
    await createRecordFile(this.path(upload.id, 'json'), JSON.stringify(upload))
    this.cache.created(upload.id, upload, mtimeMs)
    debug('created %s length=%s', upload.id, upload.length)
    return { ...upload, offset: 0 }
  }

  async get(id: string): Promise<Upload | undefined> {
    if (!isValidId(id)) return undefined
    if (!this.pending.recovered) await this.pending.recover()
    const cached = this.cache.get(id)
    let record: StoredRecord
    if (cached) {
      record = copyRecord(cached.record)
    } else {
      const version = this.cache.version
      let found
      try {
        found = lastRecord(await readFile(this.path(id, 'json'), 'utf8'))
      } catch (err) {
        if (isMissing(err)) return undefined
        throw err
      }
      // A record file without a whole line: a creation cut off by a crash, never acknowledged. One naming
      // another id: this name reached another upload's files (a case-insensitive file system).
      if (!found || (found.record as StoredRecord).id !== id) return undefined
      record = found.record as StoredRecord
      this.cache.fill(id, record, found.lines, version)
    }
    let size: number
    let updatedAt: string
    if (cached?.size !== undefined && cached.mtimeMs !== undefined) {
      size = cached.size
      updatedAt = cached.updatedAt ??= isoDate(cached.mtimeMs)
    } else {
      const version = this.cache.fileVersion
      let mtimeMs: number
      try {
        ;({ size, mtimeMs } = await stat(this.path(id, 'bin')))
      } catch (err) {
        if (isMissing(err)) {
          this.cache.forget(id)
          return undefined
        }
        throw err
      }
      this.cache.fillFile(id, size, mtimeMs, version)
      updatedAt = isoDate(mtimeMs)
    }
    // Unverified bytes of a request in progress are not part of the offset yet.
    const start = this.pending.startOf(id)
    const upload = record as Upload
    upload.offset = start === undefined ? size : Math.min(size, start)
    upload.updatedAt = updatedAt
    return upload
  }

  async write(id: string, offset: number, body: AsyncIterable<Buffer>, options?: WriteOptions): Promise<number> {
    await this.pending.recover()
    if (options?.provisional) await this.pending.mark(id, offset)
    const fh = await open(this.path(id, 'bin'), 'r+')
    let position = offset
    try {
      for await (const batch of batches(body, WRITE_BATCH, GATHER_MS)) {
        position = await writeAll(fh, batch, position)
        this.cache.resized(id, position)
      }
      if (this.syncWrites) await fh.datasync()
    } catch (err) {
      // A write that failed part-way stored an unknown number of bytes.
      this.cache.forgetFile(id)
      throw err
    } finally {
      await fh.close()
    }
    return position
  }

  async truncate(id: string, offset: number): Promise<void> {
    const fh = await open(this.path(id, 'bin'), 'r+')
    try {
      await fh.truncate(offset)
      this.cache.resized(id, offset)
      if (this.syncWrites) await fh.datasync()
    } catch (err) {
      this.cache.forgetFile(id)
      throw err
    } finally {
      await fh.close()
    }
    await this.pending.clear(id)
  }

  async commit(id: string): Promise<void> {
    if (this.pending.startOf(id) === undefined) return
    if (this.syncWrites) {
      const fh = await open(this.path(id, 'bin'), 'r+')
      await fh.datasync().finally(() => fh.close())
    }
    await this.pending.clear(id)
  }

  async concatenate(id: string, parts: readonly string[]): Promise<Upload> {
    const tmp = join(this.directory, `.${id}.concat.tmp`)
    const out = await open(tmp, 'w', 0o600)
    try {
      for (const part of parts) {
        // Streamed: never more than one read buffer of a part in memory.
        const src = await open(this.path(part, 'bin'), 'r')
        try {
          for await (const chunk of src.createReadStream({ autoClose: false })) {
            const buf = chunk as Buffer
            let done = 0
            while (done < buf.length) done += (await out.write(buf, done, buf.length - done)).bytesWritten
          }
        } finally {
          await src.close()
        }
      }
      if (this.syncWrites) await out.sync()
    } catch (err) {
      await out.close().catch(() => {})
      await unlink(tmp).catch(() => {})
      throw err
    }
    await out.close()
    await rename(tmp, this.path(id, 'bin'))
    this.cache.forgetFile(id)
    if (this.syncWrites) await syncDirectory(this.directory)
    const upload = await this.get(id)
    if (!upload) throw new TusError('NOT_FOUND')
    debug('concatenated %s from %d parts: %d bytes', id, parts.length, upload.offset)
    return upload
  }

  async *list(): AsyncIterable<Upload> {
    await this.init()
    for await (const entry of await opendir(this.directory)) {
      if (!entry.name.endsWith('.json') || entry.name.startsWith('.')) continue
      const upload = await this.get(entry.name.slice(0, -'.json'.length))
      if (upload) yield upload
    }
  }

  async update(id: string, changes: UploadChanges): Promise<Upload> {
    const current = await this.get(id)
    if (!current) throw new TusError('NOT_FOUND')
    const { offset, updatedAt, ...record } = { ...current, ...changes }
    // Known after get() unless the cache is off; then the file is rewritten once it is long.
    const lines = this.cache.get(id)?.lines ?? MAX_LINES
    // Dropped first: if the write fails, the next read goes to the file, whichever version it holds.
    const known = this.cache.drop(id)
    const path = this.path(id, 'json')
    let now
    try {
      now = await appendRecord(path, JSON.stringify(record), lines, this.syncWrites || !onlyCompletion(changes))
    } catch (err) {
      // The line may be in the file although the change failed (its sync failed): put the record back as it
      // was, so that a change reported failed never shows, nor shows and then reverts.
      const { offset: _, updatedAt: __, ...previous } = current
      await writeFileAtomic(path, `${JSON.stringify(previous)}\n`).catch(() => {})
      throw err
    }
    this.cache.set(id, record, now, known)
    return { ...record, offset, updatedAt }
  }

  async remove(id: string): Promise<void> {
    // The record goes first: from then on the upload does not exist, even if the process dies here.
    this.cache.delete(id)
    try {
      await unlink(this.path(id, 'json'))
    } catch (err) {
      if (isMissing(err)) throw new TusError('NOT_FOUND')
      throw err
    } finally {
      // Again: a read that raced the unlink may have cached the record meanwhile.
      this.cache.delete(id)
    }
    await unlink(this.path(id, 'bin')).catch((err) => {
      if (!isMissing(err)) throw err
    })
    await this.pending.clear(id).catch(() => {})
    debug('removed %s', id)
  }

  async read(id: string, range?: ByteRange): Promise<Readable> {
    // Open first so a missing file is a rejection here, not a stream error later.
    const fh = await open(this.path(id, 'bin'), 'r')
    return fh.createReadStream({ start: range?.start, end: range?.end, autoClose: true })
  }

  /** The file for an id; refuses anything that could leave the directory. */
  private path(id: string, ext: 'bin' | 'json' | 'pending'): string {
    // A valid id has no separator and does not start with a dot: the name stays inside the directory.
    if (!isValidId(id)) throw new TusError('INVALID_ID')
    return `${this.prefix}${id}.${ext}`
  }

  private init(): Promise<unknown> {
    this.ready ??= mkdir(this.directory, { recursive: true, mode: 0o700 }).catch((err) => {
      this.ready = undefined
      throw err
    })
    return this.ready
  }
}
