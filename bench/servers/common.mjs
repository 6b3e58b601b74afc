// Shared by the benchmark servers: listen on loopback, tell the parent the port, stop when asked.
import { createServer } from 'node:http'

/** Starts `handler` on 127.0.0.1 (ephemeral port) and reports { port } to the parent over IPC. */
export function serve(handler) {
  const server = createServer({ keepAliveTimeout: 30_000 }, handler)
  server.listen(0, '127.0.0.1', () => process.send({ port: server.address().port }))
  process.on('message', (msg) => {
    if (msg !== 'stop') return
    server.closeAllConnections()
    // exit() (not a signal) so that --cpu-prof writes its profile.
    server.close(() => process.exit(0))
  })
  process.on('disconnect', () => process.exit(0))
}

/** The directory uploads go to, given by the parent. */
export const directory = process.argv[2]
