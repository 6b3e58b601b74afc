/** DELETE: terminate an upload, finished or not (spec: termination). */
import { emitLater, reply, type Context } from '../context.js'
import { withUpload } from './access.js'
import { forgetWaiting } from '../waiting.js'

export async function handleDelete(ctx: Context, id: string): Promise<void> {
  await withUpload(ctx, id, 'delete', async (upload) => {
    await ctx.options.store.remove!(id)
    forgetWaiting(ctx.server.waiting, upload)
    emitLater(ctx, 'terminated', upload)
  })
  reply(ctx, 204)
}
