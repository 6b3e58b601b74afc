/**
 * Serving a request that names an Upload-Draft-Interop-Version ("Resumable Uploads for HTTP",
 * draft-ietf-httpbis-resumable-upload) on the tus() URLs: the collection URL creates uploads, an upload URL
 * serves offset retrieval, append and cancellation. One upload state with tus 1.0: the same store, hooks,
 * events, locks, limits and expiry.
 */
import type { Context } from '../context.js'
import { TusError } from '../errors.js'
import { handleGet } from '../handlers/get.js'
import { admitUpload } from '../handlers/access.js'
import { reply } from '../context.js'
import { replyAfterBody } from '../lifecycle/receive.js'
import { booleanField } from './headers.js'
import { draftDelete, draftHead, draftOptions } from './head.js'
import { limitField } from './limits.js'
import { draftAppend } from './patch.js'
import { create, readCreation } from './post.js'
import { replyDraftError } from './problems.js'
import { chooseVersion, INTEROP_HEADER } from './version.js'

export { isDraftRequest } from './version.js'

/** Answers a draft request. Protocol errors are answered here; anything else is thrown, as for tus. */
export async function serveDraft(ctx: Context): Promise<void> {
  const drafts = ctx.options.drafts!
  // Answered as a draft request (no Tus-Resumable) even when its version is refused below.
  ctx.draftRequest = true
  try {
    ctx.draft = chooseVersion(ctx.req.headers[INTEROP_HEADER], drafts.versions)
    await dispatch(ctx)
  } catch (err) {
    if (!(err instanceof TusError)) throw err
    replyDraftError(ctx, err)
  }
}

async function dispatch(ctx: Context): Promise<void> {
  const { method, id } = ctx
  if (method === '') throw new TusError('INVALID_METHOD_OVERRIDE')
  if (method === 'OPTIONS') return draftOptions(ctx)
  if (id === undefined) return createOnCollection(ctx)
  switch (method) {
    case 'HEAD':
      return draftHead(ctx, id)
    case 'PATCH':
      return draftAppend(ctx, id)
    case 'DELETE':
      return draftDelete(ctx, id)
    case 'GET':
      return handleGet(ctx, id)
  }
}

/** POST to the collection: upload creation (draft-3 §4, draft-6 §4.2, draft-11 §4.2). */
async function createOnCollection(ctx: Context): Promise<void> {
  const creation = await readCreation(ctx, ctx.draft!)
  // draft-3 §4: a creation is identified by Upload-Complete.
  if (!creation) throw new TusError('MISSING_UPLOAD_COMPLETE', 'Creating an upload takes Upload-Complete (?1 or ?0)', 400)
  const { upload, location, reason, completed } = await admitUpload(ctx, () => create(ctx, creation))
  // draft-3 §4: the response MUST carry Location, and Upload-Offset; a request that did not complete the upload
  // MUST get 201 with Upload-Complete: ?0. draft-7 §4.2.2 / draft-11 §4.2.2: and Upload-Limit where limits exist.
  const headers = {
    Location: location,
    'Upload-Offset': upload.offset,
    'Upload-Complete': booleanField(completed),
    'Upload-Limit': await limitField(ctx, upload),
  }
  if (reason !== 'end') return replyAfterBody(ctx, reason, 201, headers)
  reply(ctx, 201, headers)
}
