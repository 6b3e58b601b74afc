/**
 * Test servers: the middleware mounted in Express on an ephemeral loopback port, and temp directories.
 */
import express from 'express'
import { mkdtemp, rm } from 'node:fs/promises'
import type { AddressInfo } from 'node:net'
import type { Server } from 'node:http'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { tus, type TusMiddleware, type TusOptions } from 'tus-middleware'

export interface TestServer {
  /** Absolute URL of the upload collection, e.g. http://127.0.0.1:1234/files */
  url: string
  origin: string
  uploads: TusMiddleware
  server: Server
  close(): Promise<void>
}

export async function startServer(options: TusOptions = {}, mount = '/files'): Promise<TestServer> {
  const uploads = tus(options)
  const app = express()
  app.use(mount, uploads)
  return listen(app, uploads, mount)
}

export async function listen(handler: Parameters<typeof import('node:http').createServer>[1] | express.Express, uploads: TusMiddleware, mount = '/files'): Promise<TestServer> {
  const { createServer } = await import('node:http')
  const server = createServer(handler as never)
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  const { port } = server.address() as AddressInfo
  const origin = `http://127.0.0.1:${port}`
  return {
    url: `${origin}${mount}`,
    origin,
    uploads,
    server,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections()
        server.close(() => resolve())
      }),
  }
}

export async function tempDir(prefix = 'tus-test-'): Promise<{ path: string; remove(): Promise<void> }> {
  const path = await mkdtemp(join(tmpdir(), prefix))
  return { path, remove: () => rm(path, { recursive: true, force: true }) }
}

export const TUS = { 'Tus-Resumable': '1.0.0' } as const
