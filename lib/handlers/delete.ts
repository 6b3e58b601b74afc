/** DELETE: terminate an upload, finished or not (spec: termination). */
import { emitLater, reply, type Context } from '../context.js'
import { assertHeld } from '../lifecycle/complete.js'
import { withUpload } from './access.js'

export async function handleDelete(ctx: Context, id: string): Promise<void> {
  await withUpload(ctx, id, 'delete', async (upload) => {
    assertHeld(ctx)
    await ctx.options.store.remove!(id)
    emitLater(ctx, 'terminated', upload)
  })
  reply(ctx, 204)
}
