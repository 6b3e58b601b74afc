/**
 * Offset retrieval (draft-3 §5; draft-6 §4.3; draft-11 §4.3), cancellation (draft-3 §6; draft-6 §4.5;
 * draft-11 §4.5) and OPTIONS (draft-6 §4.1.4; draft-11 §4.1.4) for draft requests.
 */
import { reply, type Context, type Headers } from '../context.js'
import { TusError } from '../errors.js'
import { handleDelete } from '../handlers/delete.js'
import { withUpload } from '../handlers/access.js'
import { advance } from '../lifecycle/index.js'
import { isComplete, type Upload } from '../upload.js'
import { booleanField } from './headers.js'
import { limitField } from './limits.js'

/** Completeness as the draft sees it (draft-6 §4.1.2): the client said so, and all of it arrived. */
export const completeOf = (upload: Upload): boolean => upload.completedAt !== undefined || isComplete(upload)

/** draft-3 §4, draft-4, draft-5: HEAD and DELETE MUST be refused with 400 when they carry Upload-Offset or Upload-Complete. */
function refuseStateFields(ctx: Context): void {
  const { headers } = ctx.req
  if (ctx.draft?.refuseStateFields && (headers['upload-offset'] !== undefined || headers['upload-complete'] !== undefined)) {
    throw new TusError('INVALID_DRAFT_FIELD', `${ctx.method} takes neither Upload-Offset nor Upload-Complete`, 400)
  }
}

export async function draftHead(ctx: Context, id: string): Promise<void> {
  refuseStateFields(ctx)
  // Under the lock, as for tus: a HEAD ends (takes over from) a transfer still hanging on a dead connection,
  // so the offset it reports is accepted by the next append (draft-6 §4.4 Concurrency; draft-11 §4.6 MUST).
  const upload = await withUpload(ctx, id, 'head', (found) => advance(ctx, found))
  const features = ctx.draft!
  const headers: Headers = {
    // draft-3 §5 / draft-6 §4.3.2: MUST include Upload-Offset and Upload-Complete.
    'Upload-Offset': upload.offset,
    'Upload-Complete': booleanField(completeOf(upload)),
    // draft-6 §4.3.2: MUST include Upload-Length when known.
    'Upload-Length': features.uploadLength ? upload.length : undefined,
    // draft-6 §4.3.2: MAY; draft-7 §4.3.2, draft-11 §4.3.2: MUST include Upload-Limit.
    'Upload-Limit': await limitField(ctx, upload),
    // SHOULD prevent caching (draft-3 §5, draft-6 §4.3.2).
    'Cache-Control': 'no-store',
  }
  // draft-3 §5: MUST answer 204 (200 is allowed from draft-4 on).
  reply(ctx, 204, headers)
}

export async function draftDelete(ctx: Context, id: string): Promise<void> {
  refuseStateFields(ctx)
  // draft-3 §6: 405 when cancellation is not supported (the store cannot remove uploads), 204 once it is
  // removed (draft-6 §4.5.2: MUST 204), 404 when there is no such upload. The core's lock takeover ends an
  // append still running on the upload first (draft-11 §4.5.2 SHOULD).
  if (!ctx.options.store.capabilities.includes('termination')) throw new TusError('METHOD_NOT_ALLOWED')
  await handleDelete(ctx, id)
}

export async function draftOptions(ctx: Context): Promise<void> {
  const features = ctx.draft!
  reply(ctx, 204, {
    // draft-6 §4.1.4, draft-7 §4.1.4: MUST include Upload-Limit on the target URI (min-size=0 when there is
    // no limit); draft-11 §4.1.4: SHOULD when limits apply.
    'Upload-Limit': await limitField(ctx),
    // draft-11 §4.1.4: MUST include Accept-Patch naming application/partial-upload.
    'Accept-Patch': features.acceptPatch ? 'application/partial-upload' : undefined,
  })
}
