// The benchmark client, in its own process: runs one workload per message from the parent and answers with
// its result (or { error }, or { skipped } when the server lacks what the workload needs).
import * as workloads from './workloads.mjs'
import { closeAll } from './http.mjs'

const digests = new Map()

async function run({ workload, origin, params }) {
  if (workload === 'checksum') {
    const skipped = await workloads.checksumSupport(origin, params.algorithm)
    if (skipped) return { skipped }
    const key = `${params.algorithm}:${params.size}`
    if (!digests.has(key)) digests.set(key, workloads.checksumOf(params.algorithm, params.size))
    return workloads.big(origin, { size: params.size, checksum: digests.get(key) })
  }
  return workloads[workload](origin, params)
}

process.on('message', async (msg) => {
  let result
  try {
    result = await run(msg)
  } catch (err) {
    result = { error: String(err?.stack ?? err) }
  }
  // Idle sockets would keep the next server's predecessor busy; each workload starts fresh.
  closeAll()
  process.send({ seq: msg.seq, ...result })
})
process.on('disconnect', () => process.exit(0))
