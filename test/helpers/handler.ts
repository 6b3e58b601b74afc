import express from 'express'
import type { TusMiddleware } from 'tus-middleware'
import { listen, type TestServer } from './server.js'

/** Serves an existing middleware at /files on a loopback port. */
export async function startServerWith(uploads: TusMiddleware, mount = '/files'): Promise<TestServer> {
  const app = express()
  app.use(mount, uploads)
  return listen(app, uploads, mount)
}
