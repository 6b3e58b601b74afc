/**
 * The durable default store. Each upload is two files in one directory:
 *   <id>.bin   the bytes received so far; its size IS the offset, so the offset can never claim a byte
 *              that is not on disk, whatever moment the process dies at;
 *   <id>.json  the record (length, metadata, dates): written once, changed by appending a line (see
 *              record-file.ts); fsynced before a change is reported done (a completion: with syncWrites).
 * The .bin file is created first and exclusively, so an id is taken once; a .bin without a .json (a crash
 * during creation) is not an upload.
 *
 * A staged write (bytes the request may still refuse) is written in place past the offset, and the record
 * says where it starts (`staged`): the offset is then the smaller of the two, so staged bytes count for no
 * process and after no crash until commit() records the stage's end, and discard() cuts them off. No
 * recovery pass runs when a store starts: a stage a dead writer left is cut off by the next write, which
 * starts at the offset that stands and holds the upload's lock. Cost per staged request: two appended record
 * lines (fsynced with syncWrites), no extra copy of the bytes.
 *   <id>.links  final uploads waiting for this one as a part, one id a line (appended, no lock needed).
 * Concatenation copies the parts into a hidden temp file that is renamed over the .bin: all or nothing.
 */
import createDebug from 'debug'
import { appendFile, mkdir, open, opendir, readFile, rename, stat, unlink } from 'node:fs/promises'
import { join, resolve, sep } from 'node:path'
import type { Readable } from 'node:stream'
import { TusError } from '../errors.js'
import type { NewUpload, Upload } from '../upload.js'
import { syncDirectory, writeFileAtomic } from './atomic-file.js'
import { batches, writeAll } from './batches.js'
import { closeSettled, openFd } from './descriptors.js'
import type { ByteRange, DataStore, StoreCapability, UploadChanges, WriteOptions } from './data-store.js'
import { isValidId } from './ids.js'
import { copyRecord, RecordCache, type StoredRecord } from './record-cache.js'
import { appendRecord, createRecordFile, lastRecord } from './record-file.js'

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

const exists = (path: string): Promise<boolean> =>
  stat(path).then(
    () => true,
    (err) => {
      if (isMissing(err)) return false
      throw err
    },
  )

/** An upload as found on disk: its record, the record file's line count, and the data file's size and mtime. */
interface Found {
  record: StoredRecord
  lines: number
  size: number
  updatedAt: string
}

/** The offset that stands: staged bytes past the stage's start never count. */
const standing = (found: Found): number => (found.record.staged === undefined ? found.size : Math.min(found.size, found.record.staged))

export class FileStore implements DataStore {
  readonly capabilities: readonly StoreCapability[] = ['termination', 'read', 'concatenation', 'expiration']
  readonly directory: string
  /** The directory with a trailing separator. */
  private readonly prefix: string
  private readonly syncWrites: boolean
  private readonly cache: RecordCache
  private ready: Promise<unknown> | undefined

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
    const found = await this.find(id)
    if (!found) return undefined
    const { staged: _, ...record } = found.record
    const upload = record as Upload
    upload.offset = standing(found)
    upload.updatedAt = found.updatedAt
    return upload
  }

  async write(id: string, offset: number, body: AsyncIterable<Buffer>, options: WriteOptions = {}): Promise<number> {
    const found = await this.find(id)
    if (!found) throw new TusError('NOT_FOUND')
    // Never below the offset that stands: acknowledged bytes are never rewritten.
    if (offset !== standing(found)) throw new TusError('OFFSET_MISMATCH')
    const staged = options.staged === true
    const fh = await open(this.path(id, 'bin'), 'r+')
    let position = offset
    let syncing = false
    try {
      // Bytes past the offset that stands (a stage a dead writer left, or bytes whose sync failed) go first.
      if (found.size > offset) {
        await fh.truncate(offset)
        this.cache.resized(id, offset)
      }
      const stage = staged ? offset : undefined
      if (found.record.staged !== stage) await this.putRecord(id, found, { ...found.record, staged: stage }, this.syncWrites)
      for await (const batch of batches(body, WRITE_BATCH, GATHER_MS)) {
        options.signal?.throwIfAborted()
        position = await writeAll(fh, batch, position)
        this.cache.resized(id, position)
      }
      syncing = this.syncWrites && !staged
      if (syncing) await fh.datasync()
    } catch (err) {
      // A write that failed part-way stored an unknown number of bytes; bytes whose sync failed never count.
      this.cache.forgetFile(id)
      if (syncing) await this.cutBack(id, fh, offset)
      throw err
    } finally {
      await fh.close()
    }
    return position
  }

  async commit(id: string, offset: number): Promise<number> {
    const found = await this.find(id)
    if (!found) throw new TusError('NOT_FOUND')
    if (found.record.staged !== offset) return standing(found)
    if (this.syncWrites) await this.syncData(id)
    await this.putRecord(id, found, { ...found.record, staged: undefined }, this.syncWrites)
    return found.size
  }

  async discard(id: string, offset: number): Promise<void> {
    const found = await this.find(id)
    // Only a stage that starts there: bytes that counted are never cut.
    if (!found || found.record.staged !== offset) return
    const fh = await open(this.path(id, 'bin'), 'r+')
    try {
      await fh.truncate(offset)
      this.cache.resized(id, offset)
    } catch (err) {
      this.cache.forgetFile(id)
      throw err
    } finally {
      await fh.close()
    }
    await this.putRecord(id, found, { ...found.record, staged: undefined }, this.syncWrites)
  }

  async update(id: string, changes: UploadChanges): Promise<Upload> {
    const found = await this.find(id)
    if (!found) throw new TusError('NOT_FOUND')
    const record = { ...found.record, ...changes }
    await this.putRecord(id, found, record, this.syncWrites || !onlyCompletion(changes))
    const { staged: _, ...upload } = record
    return { ...upload, offset: standing(found), updatedAt: found.updatedAt }
  }

  async concatenate(id: string, parts: readonly string[]): Promise<Upload> {
    const tmp = this.concatTemp(id)
    const out = await open(tmp, 'w', 0o600)
    try {
      for (const part of parts) {
        const upload = await this.get(part)
        if (!upload) throw new TusError('CONCAT_PART_GONE')
        if (upload.offset === 0) continue
        // Streamed: never more than one read buffer of a part in memory; only the bytes that count.
        const src = await open(this.path(part, 'bin'), 'r').catch((err) => {
          throw isMissing(err) ? new TusError('CONCAT_PART_GONE') : err
        })
        try {
          for await (const chunk of src.createReadStream({ autoClose: false, start: 0, end: upload.offset - 1 })) {
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

  async link(partId: string, finalId: string): Promise<void> {
    if (!isValidId(finalId)) throw new TusError('INVALID_ID')
    // One short line appended: whole, or cut short by a crash (then not a valid id, or not one whose parts
    // name this upload: callers check the final's own record).
    const path = this.path(partId, 'links')
    await appendFile(path, `${finalId}\n`, { mode: 0o600, flag: 'a' })
    // The part was removed meanwhile: its links go with it.
    if (!(await exists(this.path(partId, 'json')))) {
      await unlink(path).catch(() => {})
      return
    }
    if (this.syncWrites) await this.syncFile(path)
  }

  async linked(partId: string): Promise<string[]> {
    let text: string
    try {
      text = await readFile(this.path(partId, 'links'), 'utf8')
    } catch (err) {
      if (isMissing(err)) return []
      throw err
    }
    return [...new Set(text.split('\n').filter(isValidId))]
  }

  /** Every upload, in no particular order (not part of the store contract: for the host's own use). */
  async *list(): AsyncIterable<Upload> {
    yield* this.scan(() => true, undefined)
  }

  /**
   * Uploads whose data file was last written before `before`: a stat each, a record read only for those.
   * Files no upload owns any more and idle as long are removed on the way (see reclaim).
   */
  async *idle(before: number): AsyncIterable<Upload> {
    yield* this.scan((mtimeMs) => mtimeMs < before, before)
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
    // The assembly temp file too: a crash during a concatenation leaves one behind.
    for (const path of [this.path(id, 'bin'), this.path(id, 'links'), this.concatTemp(id)]) {
      await unlink(path).catch((err) => {
        if (!isMissing(err)) throw err
      })
    }
    debug('removed %s', id)
  }

  async read(id: string, range?: ByteRange): Promise<Readable> {
    // Open first so a missing file is a rejection here, not a stream error later.
    const fh = await open(this.path(id, 'bin'), 'r')
    return fh.createReadStream({ start: range?.start, end: range?.end, autoClose: true })
  }

  /** The upload's record and data file, from the cache where it knows them. */
  private async find(id: string): Promise<Found | undefined> {
    const cached = this.cache.get(id)
    let record: StoredRecord
    let lines: number
    if (cached) {
      record = copyRecord(cached.record)
      lines = cached.lines
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
      lines = found.lines
      this.cache.fill(id, record, lines, version)
    }
    if (cached?.size !== undefined && cached.mtimeMs !== undefined) {
      return { record, lines, size: cached.size, updatedAt: (cached.updatedAt ??= isoDate(cached.mtimeMs)) }
    }
    const version = this.cache.fileVersion
    let size: number
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
    return { record, lines, size, updatedAt: isoDate(mtimeMs) }
  }

  /**
   * Records a change of `found`'s record: a line appended (fsynced when `sync`). If it fails, the record is
   * put back as it was, so that a change reported failed never shows, nor shows and then reverts.
   */
  private async putRecord(id: string, found: Found, record: StoredRecord, sync: boolean): Promise<void> {
    if (record.staged === undefined) delete record.staged
    // Dropped first: if the write fails, the next read goes to the file, whichever version it holds.
    const known = this.cache.drop(id)
    const path = this.path(id, 'json')
    try {
      found.lines = await appendRecord(path, JSON.stringify(record), found.lines, sync)
    } catch (err) {
      await writeFileAtomic(path, `${JSON.stringify(found.record)}\n`).catch(() => {})
      found.lines = 1
      throw err
    }
    found.record = record
    this.cache.set(id, record, found.lines, known)
  }

  /**
   * Bytes from `offset` whose sync failed may not be on the disk: cut off, or, if even that fails, marked as a
   * stage from `offset`, which never counts and which the next write cuts off.
   */
  private async cutBack(id: string, fh: Awaited<ReturnType<typeof open>>, offset: number): Promise<void> {
    try {
      await fh.truncate(offset)
      await fh.datasync()
    } catch {
      const found = await this.find(id).catch(() => undefined)
      if (found) await this.putRecord(id, found, { ...found.record, staged: offset }, true).catch(() => {})
    }
  }

  private async syncData(id: string): Promise<void> {
    const fh = await open(this.path(id, 'bin'), 'r+')
    await fh.datasync().finally(() => fh.close())
  }

  private async syncFile(path: string): Promise<void> {
    const fh = await open(path, 'r')
    await fh.sync().finally(() => fh.close())
  }

  /** The uploads whose data file's mtime passes `keep`. */
  private async *scan(keep: (mtimeMs: number) => boolean, reclaimBefore: number | undefined): AsyncIterable<Upload> {
    await this.init()
    for await (const entry of await opendir(this.directory)) {
      if (!entry.name.endsWith('.json') || entry.name.startsWith('.')) {
        if (reclaimBefore !== undefined && entry.isFile()) await this.reclaim(entry.name, reclaimBefore)
        continue
      }
      const id = entry.name.slice(0, -'.json'.length)
      if (!isValidId(id)) continue
      let mtimeMs: number
      try {
        mtimeMs = (await stat(this.path(id, 'bin'))).mtimeMs
      } catch (err) {
        if (isMissing(err)) continue
        throw err
      }
      if (!keep(mtimeMs)) continue
      const upload = await this.get(id)
      if (upload) yield upload
    }
  }

  /**
   * Removes a file that no upload owns and that nothing wrote since `before`: what a process killed mid-way
   * left behind (a data or links file whose record a removal had already deleted, a creation cut off before
   * its record, an assembly's temp file). A creation or an assembly in progress wrote its file just now.
   */
  private async reclaim(name: string, before: number): Promise<void> {
    const temp = /^\.(.+)\.concat\.tmp$/.exec(name)
    const owned = /^(.+)\.(bin|links)$/.exec(name)
    const id = temp?.[1] ?? owned?.[1]
    if (id === undefined || !isValidId(id)) return
    const path = join(this.directory, name)
    try {
      if ((await stat(path)).mtimeMs >= before) return
      if (owned && (await exists(this.path(id, 'json')))) return
      await unlink(path)
      debug('reclaimed %s', name)
    } catch (err) {
      if (!isMissing(err)) throw err
    }
  }

  /** Where a final upload is assembled before it is renamed over its data file. */
  private concatTemp(id: string): string {
    if (!isValidId(id)) throw new TusError('INVALID_ID')
    return join(this.directory, `.${id}.concat.tmp`)
  }

  /** The file for an id; refuses anything that could leave the directory. */
  private path(id: string, ext: 'bin' | 'json' | 'links'): string {
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
