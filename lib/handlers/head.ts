/** HEAD: where to resume (spec: core, HEAD; creation; concatenation; expiration). */
import { reply, type Context, type Headers } from '../context.js'
import { expiresHeader } from '../lifecycle/expiry.js'
import { advance } from '../lifecycle/index.js'
import { formatMetadata } from '../protocol/metadata.js'
import { isComplete, type Upload } from '../upload.js'
import type { ResolvedOptions } from '../options.js'
import { withUpload } from './access.js'

/** The headers that describe an upload's state. */
export function stateHeaders(options: ResolvedOptions, upload: Upload): Headers {
  const metadata = formatMetadata(upload.metadata)
  const final = upload.concat?.type === 'final'
  return {
    // spec: concatenation: a final upload's offset is shown only once it is assembled.
    'Upload-Offset': final && !isComplete(upload) ? undefined : upload.offset,
    'Upload-Length': upload.length,
    'Upload-Defer-Length': upload.length === undefined && !final ? 1 : undefined,
    'Upload-Metadata': metadata === '' ? undefined : metadata,
    'Upload-Concat': upload.concat === undefined ? undefined : upload.concat.type === 'final' ? upload.concat.header : 'partial',
    ...expiresHeader(options, upload),
  }
}

export async function handleHead(ctx: Context, id: string): Promise<void> {
  // The lock makes a HEAD wait for (and take over from) a PATCH still hanging on a dead connection,
  // so the offset it reports is final.
  const upload = await withUpload(ctx, id, 'head', (found) => advance(ctx, found))
  reply(ctx, 200, { ...stateHeaders(ctx.options, upload), 'Cache-Control': 'no-store' })
}
