// The same mounts on Express 4 and Express 5: the middleware must behave identically on both.
import express4 from 'express-4'
import express5 from 'express'
import { uploadSuite } from './upload-suite.js'

// Typed as Express 5: the calls below have the same shape in both versions' types.
const versions: Array<[string, typeof express5]> = [['Express 4', express4 as unknown as typeof express5], ['Express 5', express5]]

for (const [name, express] of versions) {
  uploadSuite(`${name}, app.use(path)`, {
    mount: (uploads) => {
      const app = express()
      app.use('/files', uploads)
      app.use((_req, res) => void res.status(404).send('app 404'))
      return app
    },
    collection: '/files',
    outside: { path: '/elsewhere', status: 404, body: 'app 404' },
  })

  uploadSuite(`${name}, nested routers`, {
    mount: (uploads) => {
      const app = express()
      const api = express.Router()
      api.use('/uploads', uploads)
      app.use('/api/v1', api)
      app.post('/api/v1/other', (_req, res) => void res.status(200).send('other route'))
      return app
    },
    collection: '/api/v1/uploads',
    // req.baseUrl joins both mount paths.
    outside: { path: '/api/v1/other', status: 200, body: 'other route' },
  })
}
