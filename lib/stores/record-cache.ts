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

  set(id: string, text: string): void {
    if (this.max === 0) return
    this.entries.delete(id)
    this.entries.set(id, text)
    if (this.entries.size > this.max) this.entries.delete(this.entries.keys().next().value as string)
  }

  delete(id: string): void {
    this.entries.delete(id)
  }
}
