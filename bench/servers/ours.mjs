// tus-middleware with its FileStore, mounted in Express 5, from the built package (npm run build).
import express from 'express'
import { FileStore, tus } from '../../dist/esm/index.js'
import { directory, serve } from './common.mjs'

const app = express()
app.use('/files', tus({ store: new FileStore({ directory }) }))
serve(app)
