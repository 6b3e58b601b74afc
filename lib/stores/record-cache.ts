import type { Upload } from '../upload.js'

/**
 * FileStore's in-memory view of its uploads, so that a HEAD or PATCH makes no system call for what this
 * process already knows: each record (the last line of <id>.json, parsed) and the size and modification time
 * of <id>.bin as this process last left them. Bounded: the least recently used upload goes first. Cached
 * records are frozen and never handed out: the store gives each caller a copy (see copyRecord).
 *
 * Only correct while this process is the only writer of the directory (see FileStoreOptions.cacheSize).
 * A value read from disk is cached only if the store changed nothing of that kind while the read was in
 * flight (see fill / fillFile): the read may hold what was there before the change.
 */
export type StoredRecord = Omit<Upload, 'offset' | 'updatedAt'> & {
  /** Where a staged write starts: bytes from here do not count until it is committed (see FileStore). */
  staged?: number
}

export interface CachedUpload {
  /** The record (frozen). */
  record: StoredRecord
  /** Lines in the record file (each update appends one). */
  lines: number
  /** The .bin file's size and mtime (ms), when known. */
  size?: number
  mtimeMs?: number
  /** mtimeMs as an ISO date, made once. */
  updatedAt?: string
}

/** A caller's own copy of a record: no object in it is shared with the cache (or with another caller). */
export function copyRecord(record: StoredRecord): StoredRecord {
  const copy = { ...record, metadata: { ...record.metadata } }
  const { concat } = record
  if (concat) copy.concat = concat.type === 'final' ? { ...concat, parts: [...concat.parts] } : { ...concat }
  return copy
}

/** The cache's own frozen copy. */
function frozen(record: StoredRecord): StoredRecord {
  const copy = copyRecord(record)
  Object.freeze(copy.metadata)
  if (copy.concat?.type === 'final') Object.freeze(copy.concat.parts)
  if (copy.concat) Object.freeze(copy.concat)
  return Object.freeze(copy)
}

/** What was known of a data file when its record was dropped for a rewrite. */
export interface KnownFile {
  size: number | undefined
  mtimeMs: number | undefined
  version: number
}

export class RecordCache {
  private readonly entries = new Map<string, CachedUpload>()
  private readonly max: number
  /** Counts the store's own record changes (see fill). */
  private recordChanges = 0
  /** Counts the store's own changes to data files (see fillFile). */
  private fileChanges = 0

  constructor(max: number) {
    this.max = max
  }

  get(id: string): CachedUpload | undefined {
    const entry = this.entries.get(id)
    if (entry !== undefined) {
      // Most recently used last.
      this.entries.delete(id)
      this.entries.set(id, entry)
    }
    return entry
  }

  /** Taken before reading a record file, for fill(). */
  get version(): number {
    return this.recordChanges
  }

  /** Taken before a stat of a data file, for fillFile(). */
  get fileVersion(): number {
    return this.fileChanges
  }

  /** Caches a record read from disk, unless the store changed any record since `version` was taken. */
  fill(id: string, record: StoredRecord, lines: number, version: number): void {
    if (version === this.recordChanges) this.put(id, { record: frozen(record), lines })
  }

  /** Caches a data file's size and mtime found by a stat, unless the store changed any since `version`. */
  fillFile(id: string, size: number, mtimeMs: number, version: number): void {
    const entry = this.entries.get(id)
    if (entry && version === this.fileChanges) {
      entry.size = size
      entry.mtimeMs = mtimeMs
      entry.updatedAt = undefined
    }
  }

  /**
   * The store is about to rewrite this record: until set(), reads go to the file, whichever version it
   * holds. Returns what is known of the data file, for set() to keep.
   */
  drop(id: string): KnownFile {
    this.recordChanges++
    const entry = this.entries.get(id)
    this.entries.delete(id)
    return { size: entry?.size, mtimeMs: entry?.mtimeMs, version: this.fileChanges }
  }

  /** The store wrote this record; `known` (from drop) is kept unless the data file changed since. */
  set(id: string, record: StoredRecord, lines: number, known?: KnownFile): void {
    this.recordChanges++
    const keep = known !== undefined && known.version === this.fileChanges
    this.put(id, { record: frozen(record), lines, size: keep ? known.size : undefined, mtimeMs: keep ? known.mtimeMs : undefined })
  }

  /** The store created an upload: its record and its empty data file. */
  created(id: string, record: StoredRecord, mtimeMs: number): void {
    this.recordChanges++
    this.fileChanges++
    this.put(id, { record: frozen(record), lines: 1, size: 0, mtimeMs })
  }

  /** The store's data file for `id` is now `size` bytes long, written just now. */
  resized(id: string, size: number): void {
    this.fileChanges++
    const entry = this.entries.get(id)
    if (entry && entry.size !== undefined) {
      entry.size = size
      entry.mtimeMs = Date.now()
      entry.updatedAt = undefined
    }
  }

  /** The store changed the data file in a way it does not know the outcome of: the next read stats it. */
  forgetFile(id: string): void {
    this.fileChanges++
    const entry = this.entries.get(id)
    if (entry) entry.size = entry.mtimeMs = entry.updatedAt = undefined
  }

  /** Drops an upload found gone (not a change by the store). */
  forget(id: string): void {
    this.entries.delete(id)
  }

  /** The store is changing or removing this record. */
  delete(id: string): void {
    this.recordChanges++
    this.fileChanges++
    this.entries.delete(id)
  }

  private put(id: string, entry: CachedUpload): void {
    if (this.max === 0) return
    this.entries.delete(id)
    this.entries.set(id, entry)
    if (this.entries.size > this.max) this.entries.delete(this.entries.keys().next().value as string)
  }
}
