/** An Express app with the middleware at /files, for supertest. */
import express from 'express'
import { MemoryStore, tus, type TusMiddleware, type TusOptions } from 'tus-middleware'

export function makeApp(options: TusOptions = {}): { app: express.Express; uploads: TusMiddleware } {
  const uploads = tus({ store: new MemoryStore(), ...options })
  const app = express()
  app.use('/files', uploads)
  app.use((_req, res) => res.status(404).send('app 404'))
  return { app, uploads }
}
