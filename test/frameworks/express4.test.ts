import express4 from 'express-4'
import { uploadSuite } from './upload-suite.js'

uploadSuite('Express 4, app.use(path)', {
  mount: (uploads) => {
    const app = express4()
    app.use('/files', uploads)
    app.use((req, res) => void res.status(404).send('app 404'))
    return app
  },
  collection: '/files',
  outside: { path: '/elsewhere', status: 404, body: 'app 404' },
})

uploadSuite('Express 4, nested routers', {
  mount: (uploads) => {
    const app = express4()
    const api = express4.Router()
    api.use('/uploads', uploads)
    app.use('/api/v1', api)
    app.post('/api/v1/other', (req, res) => void res.status(200).send('other route'))
    return app
  },
  collection: '/api/v1/uploads',
  outside: { path: '/api/v1/other', status: 200, body: 'other route' },
})
