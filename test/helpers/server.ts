/**
 * Test servers: any request listener, or the middleware mounted in Express, on an ephemeral loopback port; and
 * temp directories (with a FileStore in one).
 */
import express from 'express'
import { mkdtemp, rm } from 'node:fs/promises'
import { createServer, type RequestListener, type Server } from 'node:http'
import type { AddressInfo } from 'node:net'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { FileStore, tus, type TusMiddleware, type TusOptions } from 'tus-middleware'
import type { Defer } from './cleanup.js'

export interface Served {
  /** e.g. http://127.0.0.1:1234 */
  origin: string
  server: Server
  /** Stops listening and drops open connections. */
  close(): Promise<void>
}

export interface TestServer extends Served {
  /** Absolute URL of the upload collection, e.g. http://127.0.0.1:1234/files */
  url: string
  uploads: TusMiddleware
}

/** Serves a request listener (an Express or Connect app, a plain handler) on a loopback port. */
export async function serve(listener: RequestListener | express.Express): Promise<Served> {
  const server = createServer(listener as RequestListener)
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  const { port } = server.address() as AddressInfo
  return {
    origin: `http://127.0.0.1:${port}`,
    server,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections()
        server.close(() => resolve())
      }),
  }
}

/** Serves `listener`, which routes `mount` to `uploads`. */
export async function listen(listener: RequestListener | express.Express, uploads: TusMiddleware, mount = '/files'): Promise<TestServer> {
  const served = await serve(listener)
  return { ...served, url: `${served.origin}${mount}`, uploads }
}

/** The middleware (made from options, or one already made) mounted at `mount` in an Express app. */
export async function startServer(middleware: TusOptions | TusMiddleware = {}, mount = '/files'): Promise<TestServer> {
  const uploads = typeof middleware === 'function' ? middleware : tus(middleware)
  const app = express()
  app.use(mount, uploads)
  return listen(app, uploads, mount)
}

export async function tempDir(prefix = 'tus-test-'): Promise<{ path: string; remove(): Promise<void> }> {
  const path = await mkdtemp(join(tmpdir(), prefix))
  return { path, remove: () => rm(path, { recursive: true, force: true }) }
}

/** A FileStore in a fresh temp directory, which `defer` removes after the test. */
export async function tempFileStore(defer: Defer): Promise<{ store: FileStore; dir: string }> {
  const dir = await tempDir()
  defer(dir.remove)
  return { store: new FileStore({ directory: dir.path }), dir: dir.path }
}
