/**
 * GET: an upload's stored bytes. Not part of tus 1.0; served so that an upload can be fetched back, with
 * single byte ranges (206/416), and ETag / Last-Modified for finished uploads, whose bytes never change.
 * The type comes from `filetype` metadata only for an allow-list (see protocol/content-type.ts).
 */
import { createHash } from 'node:crypto'
import { pipeline } from 'node:stream/promises'
import { replyError, type Context } from '../context.js'
import { TusError } from '../errors.js'
import { TUS_VERSION } from '../protocol/constants.js'
import { downloadHeaders } from '../protocol/content-type.js'
import { parseRange } from '../protocol/range.js'
import type { ByteRange } from '../stores/data-store.js'
import type { Upload } from '../upload.js'
import { advance } from '../lifecycle/index.js'
import { withLock } from '../locks/with-lock.js'
import { loadUpload } from './access.js'

export async function handleGet(ctx: Context, id: string): Promise<void> {
  const { req, res } = ctx
  const upload = await load(ctx, id)
  const size = upload.offset
  const validators = validatorsOf(upload)
  const headers: Record<string, string | number> = {
    'Tus-Resumable': TUS_VERSION,
    'Accept-Ranges': 'bytes',
    'Cache-Control': 'no-store',
    ...validators,
  }
  if (validators.ETag !== undefined && notModified(req.headers, validators)) {
    res.writeHead(304, headers)
    res.end()
    return
  }
  let range: ByteRange | 'unsatisfiable' | undefined
  if (ifRangeHolds(req.headers['if-range'], validators)) range = parseRange(req.headers.range, size)
  if (range === 'unsatisfiable') {
    return replyError(ctx, new TusError('RANGE_NOT_SATISFIABLE'), { 'Content-Range': `bytes */${size}`, 'Accept-Ranges': 'bytes' })
  }
  const { contentType, disposition } = downloadHeaders(upload.metadata)
  const span = range ?? (size > 0 ? { start: 0, end: size - 1 } : undefined)
  const stream = span ? await ctx.options.store.read!(id, span) : undefined
  res.writeHead(range ? 206 : 200, {
    ...headers,
    'Content-Type': contentType,
    'Content-Length': span ? span.end - span.start + 1 : 0,
    ...(range ? { 'Content-Range': `bytes ${range.start}-${range.end}/${size}` } : {}),
    'Content-Disposition': disposition,
    'X-Content-Type-Options': 'nosniff',
    'Content-Security-Policy': "default-src 'none'; sandbox",
  })
  if (!stream || req.method === 'HEAD') {
    stream?.destroy()
    res.end()
    return
  }
  // A client that goes away mid-download ends the pipeline; that is not a server error.
  await pipeline(stream, res).catch(() => {})
}

/**
 * A download takes no lock, so it never interrupts an upload, and it never removes an expired upload. An
 * unfinished final upload is settled under its lock first: it may just have become complete.
 */
async function load(ctx: Context, id: string): Promise<Upload> {
  const upload = await loadUpload(ctx, id, 'get', { removeExpired: false })
  if (upload.concat?.type !== 'final' || upload.completedAt !== undefined) return upload
  return withLock(ctx, id, async () => {
    const current = await loadUpload(ctx, id, 'get', { authorize: false, removeExpired: false })
    return advance(ctx, current, { removeExpired: false })
  })
}

interface Validators {
  ETag?: string
  'Last-Modified'?: string
}

/** Only a finished upload's bytes are fixed, so only it gets validators. */
function validatorsOf(upload: Upload): Validators {
  if (upload.completedAt === undefined) return {}
  const done = Date.parse(upload.completedAt)
  return {
    ETag: `"${createHash('sha1').update(`${upload.id}\n${upload.offset}\n${upload.completedAt}`).digest('base64url')}"`,
    'Last-Modified': new Date(done).toUTCString(),
  }
}

function notModified(h: Record<string, string | string[] | undefined>, v: Validators): boolean {
  const inm = h['if-none-match']
  if (typeof inm === 'string') return inm.trim() === '*' || inm.split(',').some((tag) => tag.trim().replace(/^W\//, '') === v.ETag)
  const ims = h['if-modified-since']
  if (typeof ims === 'string' && v['Last-Modified']) {
    const since = Date.parse(ims)
    return !Number.isNaN(since) && Date.parse(v['Last-Modified']) <= since
  }
  return false
}

/** If-Range: the range applies only while the representation is the one the client has (RFC 9110, 13.1.5). */
function ifRangeHolds(value: string | string[] | undefined, v: Validators): boolean {
  if (value === undefined) return true
  if (typeof value !== 'string' || v.ETag === undefined) return false
  const trimmed = value.trim()
  if (trimmed.startsWith('"')) return trimmed === v.ETag
  return trimmed === v['Last-Modified']
}
