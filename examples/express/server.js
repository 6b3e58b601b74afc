// Starts the example app: `npm run example` (PORT and UPLOAD_DIR may be set in the environment).
// TUS_STORE=s3 keeps uploads in S3 instead (S3_ENDPOINT, S3_BUCKET, S3_ACCESS_KEY, S3_SECRET_KEY, S3_REGION,
// S3_PREFIX) and TUS_LOCKER=redis locks them in Redis (REDIS_URL): `npm run example:s3` sets both, against a
// local Ceph RADOS Gateway and Redis. With both, several of these processes can serve the same uploads.
import { mountBrowserExample } from '../browser/mount.js'
import { createApp } from './app.js'

const env = process.env
const port = Number(env.PORT ?? 1080)
const directory = env.UPLOAD_DIR ?? './uploads'
const maxSize = 10 * 1024 ** 3

let store
if (env.TUS_STORE === 's3') {
  const { S3Store } = await import('tus-middleware/s3')
  store = new S3Store({
    bucket: env.S3_BUCKET,
    prefix: env.S3_PREFIX ?? 'tus/',
    maxSize,
    client: {
      endpoint: env.S3_ENDPOINT,
      region: env.S3_REGION ?? 'us-east-1',
      forcePathStyle: true,
      credentials: { accessKeyId: env.S3_ACCESS_KEY, secretAccessKey: env.S3_SECRET_KEY },
      // Fail an S3 call that gets no answer instead of waiting forever (the SDK has no default).
      requestHandler: { connectionTimeout: 5000, socketTimeout: 60000 },
    },
  })
} else if (env.TUS_STORE && env.TUS_STORE !== 'file') {
  throw new Error(`TUS_STORE must be "file" or "s3", not ${JSON.stringify(env.TUS_STORE)}`)
}
let locker
if (env.TUS_LOCKER === 'redis') {
  const { RedisLocker } = await import('tus-middleware/redis')
  locker = new RedisLocker({ url: env.REDIS_URL ?? 'redis://127.0.0.1:6379' })
  await locker.ready()
} else if (env.TUS_LOCKER && env.TUS_LOCKER !== 'memory') {
  throw new Error(`TUS_LOCKER must be "memory" or "redis", not ${JSON.stringify(env.TUS_LOCKER)}`)
}

const { app } = createApp({ directory, maxSize, store, locker })
await mountBrowserExample(app)

const server = app.listen(port, '127.0.0.1', () => {
  const url = `http://127.0.0.1:${server.address().port}`
  console.log(`tus-middleware example listening on ${url}`)
  console.log(`  browser:  ${url}/  (Uppy Dashboard, signed in as alice)`)
  console.log(`  uploads:  ${url}/files  (send "Authorization: Bearer alice-token")`)
  console.log(`  finished: ${url}/api/uploads`)
  console.log(`  health:   ${url}/healthz, metrics: ${url}/metrics (with prom-client installed)`)
  console.log(`  storage:  ${store ? `S3 ${env.S3_ENDPOINT} bucket ${env.S3_BUCKET}` : directory}; finished files in ${directory}/library`)
  console.log(`  locks:    ${locker ? `Redis ${env.REDIS_URL ?? 'redis://127.0.0.1:6379'}` : 'in this process'}`)
})
const stop = () => server.close(() => Promise.resolve(locker?.close()).finally(() => process.exit(0)))
for (const signal of ['SIGINT', 'SIGTERM']) process.on(signal, stop)
