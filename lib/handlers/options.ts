/** OPTIONS: the server's configuration (spec: core, OPTIONS; checksum). Tus-Resumable in the request is ignored. */
import { reply, type Context } from '../context.js'
import { CHECKSUM_ALGORITHMS } from '../protocol/checksum.js'
import { TUS_VERSION } from '../protocol/constants.js'

export async function handleOptions(ctx: Context): Promise<void> {
  reply(ctx, 204, {
    'Tus-Version': TUS_VERSION,
    'Tus-Extension': ctx.server.extensions || undefined,
    'Tus-Max-Size': ctx.options.fixedMaxSize,
    'Tus-Checksum-Algorithm': CHECKSUM_ALGORITHMS.join(','),
  })
}
