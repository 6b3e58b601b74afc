/** DELETE: terminate an upload, finished or not (spec: termination). */
import { emitLater, reply, type Context } from '../context.js'
import { snapshot } from '../upload.js'
import { loadUpload, withLock } from './access.js'

export async function handleDelete(ctx: Context, id: string): Promise<void> {
  await withLock(ctx, id, async () => {
    const upload = await loadUpload(ctx, id, 'delete')
    await ctx.options.store.remove!(id)
    emitLater(ctx, 'terminated', snapshot(upload))
  })
  reply(ctx, 204)
}
