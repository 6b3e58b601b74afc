// An Express app with resumable uploads: its own auth in front of the middleware, and a completion hook that
// files each finished upload into a per-user library. Run it with `npm run example`.
import express from 'express'
import { createWriteStream } from 'node:fs'
import { mkdir, readFile, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { pipeline } from 'node:stream/promises'
import { FileStore, TusError, tus } from 'tus-middleware'

/** prom-client is optional: without it the app runs as before, without /metrics. */
const promClient = await import('prom-client').catch(() => undefined)

/** Demo credentials: bearer token -> user. A real app would check a session or a JWT here. */
export const USERS = { 'alice-token': 'alice', 'bob-token': 'bob' }

function requireLogin(req, res, next) {
  const match = /^Bearer (\S+)$/.exec(req.get('authorization') ?? '')
  const user = match && USERS[match[1]]
  if (!user) return res.status(401).set('WWW-Authenticate', 'Bearer').json({ error: 'login required' })
  req.user = user
  next()
}

/** Where finished files go, and the record of them (the app's "business logic"). */
function createLibrary(directory) {
  const indexFile = join(directory, 'index.json')
  let entries = []
  const ready = readFile(indexFile, 'utf8').then((text) => (entries = JSON.parse(text)), () => {})
  return {
    async add(entry) {
      await ready
      entries.push(entry)
      await writeFile(indexFile, JSON.stringify(entries, null, 2))
    },
    async list(owner) {
      await ready
      return entries.filter((e) => e.owner === owner)
    },
  }
}

const safeName = (name) => (name ?? 'upload').replace(/[^\w.-]+/g, '_').replace(/^\.+/, '').slice(0, 100) || 'upload'

/**
 * `store` and `locker` default to a FileStore in `<directory>/incoming` and the in-process MemoryLocker; server.js
 * passes an S3Store and a RedisLocker instead when TUS_STORE=s3 / TUS_LOCKER=redis (`npm run example:s3`).
 */
export function createApp({ directory = './uploads', maxSize = 10 * 1024 ** 3, store, locker } = {}) {
  store ??= new FileStore({ directory: join(directory, 'incoming') })
  const library = createLibrary(directory)
  // The app's own registry: the upload metrics (tus_*) and Node's defaults, served at /metrics.
  const registry = promClient && new promClient.Registry()
  if (registry) promClient.collectDefaultMetrics({ register: registry })

  const uploads = tus({
    store,
    locker,
    maxSize,
    metrics: registry,
    async onCreate(upload, req) {
      return { metadata: { ...upload.metadata, owner: req.user } }
    },
    async authorize(upload, req) {
      if (upload.metadata.owner !== req.user) throw new TusError('FORBIDDEN')
    },
    async onComplete(upload) {
      // Copy the finished bytes into the owner's library folder, then record the file.
      const folder = join(directory, 'library', upload.metadata.owner)
      await mkdir(folder, { recursive: true })
      const path = join(folder, `${upload.id}-${safeName(upload.metadata.filename)}`)
      await pipeline(await store.read(upload.id), createWriteStream(path))
      await library.add({
        id: upload.id,
        owner: upload.metadata.owner,
        filename: upload.metadata.filename ?? null,
        size: upload.length,
        path,
        completedAt: new Date().toISOString(),
      })
    },
  })
  uploads.on('completed', (upload) => console.log(`upload ${upload.id} completed: ${upload.length} bytes`))

  const app = express()
  app.use('/files', requireLogin, uploads)
  app.get('/api/uploads', requireLogin, async (req, res) => res.json(await library.list(req.user)))
  // For Prometheus and for a load balancer's or Kubernetes' readiness probe. Without login here; in production,
  // serve them on an internal port or keep them from the public.
  if (registry) {
    app.get('/metrics', async (_req, res) => {
      res.set('Content-Type', registry.contentType)
      res.end(await registry.metrics())
    })
  }
  app.get('/healthz', async (_req, res) => {
    try {
      await uploads.ready()
      res.json({ status: 'ready' })
    } catch {
      res.status(503).json({ status: 'unavailable' })
    }
  })
  return { app, uploads, store, library, registry }
}
