import connect from 'connect'
import type { RequestListener } from 'node:http'
import { uploadSuite } from './upload-suite.js'

uploadSuite('Connect, app.use(path)', {
  mount: (uploads) => {
    const app = connect()
    // Connect strips the mount path from req.url and keeps the full URL in req.originalUrl.
    app.use('/files', uploads)
    app.use((_req: unknown, res: import('node:http').ServerResponse) => {
      res.statusCode = 404
      res.end('app 404')
    })
    return app as unknown as RequestListener
  },
  collection: '/files',
  outside: { path: '/elsewhere', status: 404, body: 'app 404' },
})

uploadSuite('Connect, nested apps', {
  mount: (uploads) => {
    const app = connect()
    const api = connect()
    api.use('/uploads', uploads)
    app.use('/api', api)
    return app as unknown as RequestListener
  },
  collection: '/api/uploads',
  // Connect's own final handler answers 404.
  outside: { path: '/api/other', status: 404 },
})
