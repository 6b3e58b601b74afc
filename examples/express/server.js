// Starts the example app: `npm run example` (PORT and UPLOAD_DIR may be set in the environment).
import { mountBrowserExample } from '../browser/mount.js'
import { createApp } from './app.js'

const port = Number(process.env.PORT ?? 1080)
const directory = process.env.UPLOAD_DIR ?? './uploads'
const { app } = createApp({ directory })
await mountBrowserExample(app)

const server = app.listen(port, '127.0.0.1', () => {
  const url = `http://127.0.0.1:${server.address().port}`
  console.log(`tus-middleware example listening on ${url}`)
  console.log(`  browser:  ${url}/  (Uppy Dashboard, signed in as alice)`)
  console.log(`  uploads:  ${url}/files  (send "Authorization: Bearer alice-token")`)
  console.log(`  finished: ${url}/api/uploads`)
  console.log(`  health:   ${url}/healthz, metrics: ${url}/metrics (with prom-client installed)`)
  console.log(`  storage:  ${directory}`)
})
for (const signal of ['SIGINT', 'SIGTERM']) process.on(signal, () => server.close(() => process.exit(0)))
