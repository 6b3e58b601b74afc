/**
 * FileStore's in-memory copy of upload records (the text of each <id>.json), so that a HEAD or PATCH does not
 * read and parse the file again. Bounded: the least recently used record goes first. The text, not an object,
 * is kept, so no caller can change a cached record through an object it was handed.
 *
 * Only correct while this process is the only writer of the directory (see FileStoreOptions.cacheSize).
 */
export class RecordCache {
  private readonly entries = new Map<string, string>()
  private readonly max: number
  /** Counts the store's own record changes, so that a read which raced one is not cached (see fill). */
  private changes = 0

  constructor(max: number) {
    this.max = max
  }

  get(id: string): string | undefined {
    const text = this.entries.get(id)
    if (text !== undefined) {
      // Most recently used last.
      this.entries.delete(id)
      this.entries.set(id, text)
    }
    return text
  }

  /** Taken before reading a record file, for fill(). */
  get version(): number {
    return this.changes
  }

  /**
   * Caches a record read from disk, unless the store changed any record since `version` was taken: the
   * read may then hold the text from before that change, and caching it would bring the old record back.
   */
  fill(id: string, text: string, version: number): void {
    if (version === this.changes) this.put(id, text)
  }

  /** The store wrote this record. */
  set(id: string, text: string): void {
    this.changes++
    this.put(id, text)
  }

  /** Drops a record found gone (not a change by the store). */
  forget(id: string): void {
    this.entries.delete(id)
  }

  /** The store is changing or removing this record. */
  delete(id: string): void {
    this.changes++
    this.entries.delete(id)
  }

  private put(id: string, text: string): void {
    if (this.max === 0) return
    this.entries.delete(id)
    this.entries.set(id, text)
    if (this.entries.size > this.max) this.entries.delete(this.entries.keys().next().value as string)
  }
}
