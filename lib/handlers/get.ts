/**
 * GET: an upload's stored bytes. Not part of tus 1.0 core; served so that a finished upload can be fetched
 * back. The type comes from `filetype` metadata only for an allow-list (see protocol/content-type.ts).
 */
import { pipeline } from 'node:stream/promises'
import { type Context } from '../context.js'
import { TUS_VERSION } from '../protocol/constants.js'
import { downloadHeaders } from '../protocol/content-type.js'
import { loadUpload } from './access.js'

export async function handleGet(ctx: Context, id: string): Promise<void> {
  const upload = await loadUpload(ctx, id, 'get')
  const stream = await ctx.options.store.read!(id, upload.offset > 0 ? { start: 0, end: upload.offset - 1 } : undefined)
  const { contentType, disposition } = downloadHeaders(upload.metadata)
  ctx.res.writeHead(200, {
    'Tus-Resumable': TUS_VERSION,
    'Content-Type': contentType,
    'Content-Length': upload.offset,
    'Content-Disposition': disposition,
    'X-Content-Type-Options': 'nosniff',
    'Content-Security-Policy': "default-src 'none'; sandbox",
    'Cache-Control': 'no-store',
  })
  if (upload.offset === 0 || ctx.req.method === 'HEAD') {
    stream.destroy()
    ctx.res.end()
    return
  }
  // A client that goes away mid-download ends the pipeline; that is not a server error.
  await pipeline(stream, ctx.res).catch(() => {})
}
