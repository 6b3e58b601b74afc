/** HEAD: where to resume (spec: core, HEAD; creation, Upload-Defer-Length and Upload-Metadata). */
import { reply, type Context, type Headers } from '../context.js'
import { formatMetadata } from '../protocol/metadata.js'
import type { Upload } from '../upload.js'
import { loadUpload, withLock } from './access.js'
import { completeIfDone } from './complete.js'

/** The headers that describe an upload's state. */
export function stateHeaders(upload: Upload): Headers {
  const metadata = formatMetadata(upload.metadata)
  return {
    'Upload-Offset': upload.offset,
    'Upload-Length': upload.length,
    'Upload-Defer-Length': upload.length === undefined ? 1 : undefined,
    'Upload-Metadata': metadata === '' ? undefined : metadata,
  }
}

export async function handleHead(ctx: Context, id: string): Promise<void> {
  // The lock makes a HEAD wait for (and take over from) a PATCH still hanging on a dead connection,
  // so the offset it reports is final.
  const upload = await withLock(ctx, id, async () => completeIfDone(ctx, await loadUpload(ctx, id, 'head')))
  reply(ctx, 200, { ...stateHeaders(upload), 'Cache-Control': 'no-store' })
}
