import { uploadSuite } from './upload-suite.js'

uploadSuite('node:http with the path option', {
  // No router, no next(): the middleware is the whole request listener.
  mount: (uploads) => (req, res) => uploads(req, res),
  collection: '/uploads',
  options: { path: '/uploads' },
  outside: { path: '/elsewhere', status: 404, body: 'Upload not found\n' },
})

uploadSuite('node:http with a nested path option', {
  mount: (uploads) => (req, res) => uploads(req, res),
  collection: '/api/v2/uploads',
  options: { path: '/api/v2/uploads' },
  outside: { path: '/api/v2/uploadsX', status: 404 },
})
