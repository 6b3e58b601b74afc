import express from 'express'
import { uploadSuite } from './upload-suite.js'

uploadSuite('Express 5, app.use(path)', {
  mount: (uploads) => {
    const app = express()
    app.use('/files', uploads)
    app.use((req, res) => void res.status(404).send('app 404'))
    return app
  },
  collection: '/files',
  outside: { path: '/elsewhere', status: 404, body: 'app 404' },
})

uploadSuite('Express 5, nested routers', {
  mount: (uploads) => {
    const app = express()
    const api = express.Router()
    api.use('/uploads', uploads)
    app.use('/api/v1', api)
    app.post('/api/v1/other', (req, res) => void res.status(200).send('other route'))
    return app
  },
  // req.baseUrl joins both mount paths.
  collection: '/api/v1/uploads',
  outside: { path: '/api/v1/other', status: 200, body: 'other route' },
})
