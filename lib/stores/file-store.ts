/**
 * The durable default store. Each upload is two files in one directory:
 *   <id>.bin   the bytes received so far; its size IS the offset, so the offset can never claim a byte
 *              that is not on disk, whatever moment the process dies at;
 *   <id>.json  the record (length, metadata, dates), replaced atomically (see atomic-file.ts).
 * The .bin file is created first and exclusively, so an id is taken once; a .bin without a .json (a crash
 * during creation) is not an upload.
 */
import createDebug from 'debug'
import { mkdir, open, readFile, stat, unlink } from 'node:fs/promises'
import { resolve, sep } from 'node:path'
import type { Readable } from 'node:stream'
import { TusError } from '../errors.js'
import type { NewUpload, Upload } from '../upload.js'
import { writeFileAtomic } from './atomic-file.js'
import type { ByteRange, DataStore, StoreCapability, UploadChanges } from './data-store.js'
import { isValidId } from './ids.js'

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
}

type Record = Omit<Upload, 'offset'>

const isMissing = (err: unknown): boolean => (err as NodeJS.ErrnoException)?.code === 'ENOENT'

export class FileStore implements DataStore {
  readonly capabilities: readonly StoreCapability[] = ['termination', 'read']
  readonly directory: string
  private readonly syncWrites: boolean
  private ready: Promise<unknown> | undefined

  constructor(options: FileStoreOptions) {
    if (!options || typeof options.directory !== 'string' || options.directory === '') {
      throw new TypeError('FileStore: option "directory" must be a non-empty string')
    }
    this.directory = resolve(options.directory)
    this.syncWrites = options.syncWrites ?? false
  }

  async create(upload: NewUpload): Promise<Upload> {
    await this.init()
    let fh
    try {
      fh = await open(this.path(upload.id, 'bin'), 'wx', 0o600)
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'EEXIST') throw new TusError('ID_TAKEN')
      throw err
    }
    await fh.close()
    await writeFileAtomic(this.path(upload.id, 'json'), JSON.stringify(upload))
    debug('created %s length=%s', upload.id, upload.length)
    return { ...upload, offset: 0 }
  }

  async get(id: string): Promise<Upload | undefined> {
    if (!isValidId(id)) return undefined
    let record: Record
    try {
      record = JSON.parse(await readFile(this.path(id, 'json'), 'utf8'))
    } catch (err) {
      if (isMissing(err)) return undefined
      throw err
    }
    try {
      const { size } = await stat(this.path(id, 'bin'))
      return { ...record, offset: size }
    } catch (err) {
      if (isMissing(err)) return undefined
      throw err
    }
  }

  async write(id: string, offset: number, body: AsyncIterable<Buffer>): Promise<number> {
    const fh = await open(this.path(id, 'bin'), 'r+')
    let position = offset
    try {
      for await (const chunk of body) {
        let done = 0
        while (done < chunk.length) {
          const { bytesWritten } = await fh.write(chunk, done, chunk.length - done, position)
          done += bytesWritten
          position += bytesWritten
        }
      }
      if (this.syncWrites) await fh.datasync()
    } finally {
      await fh.close()
    }
    return position
  }

  async truncate(id: string, offset: number): Promise<void> {
    const fh = await open(this.path(id, 'bin'), 'r+')
    try {
      await fh.truncate(offset)
      if (this.syncWrites) await fh.datasync()
    } finally {
      await fh.close()
    }
  }

  async update(id: string, changes: UploadChanges): Promise<Upload> {
    const current = await this.get(id)
    if (!current) throw new TusError('NOT_FOUND')
    const { offset, ...record } = { ...current, ...changes }
    await writeFileAtomic(this.path(id, 'json'), JSON.stringify(record))
    return { ...record, offset }
  }

  async remove(id: string): Promise<void> {
    // The record goes first: from then on the upload does not exist, even if the process dies here.
    try {
      await unlink(this.path(id, 'json'))
    } catch (err) {
      if (isMissing(err)) throw new TusError('NOT_FOUND')
      throw err
    }
    await unlink(this.path(id, 'bin')).catch((err) => {
      if (!isMissing(err)) throw err
    })
    debug('removed %s', id)
  }

  async read(id: string, range?: ByteRange): Promise<Readable> {
    // Open first so a missing file is a rejection here, not a stream error later.
    const fh = await open(this.path(id, 'bin'), 'r')
    return fh.createReadStream({ start: range?.start, end: range?.end, autoClose: true })
  }

  /** The file for an id; refuses anything that could leave the directory. */
  private path(id: string, ext: 'bin' | 'json'): string {
    if (!isValidId(id)) throw new TusError('INVALID_ID')
    const full = resolve(this.directory, `${id}.${ext}`)
    if (!full.startsWith(this.directory + sep)) throw new TusError('INVALID_ID')
    return full
  }

  private init(): Promise<unknown> {
    this.ready ??= mkdir(this.directory, { recursive: true, mode: 0o700 }).catch((err) => {
      this.ready = undefined
      throw err
    })
    return this.ready
  }
}
