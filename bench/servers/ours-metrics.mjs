// tus-middleware as in ours.mjs, with Prometheus metrics on (option `metrics`): what the metrics cost.
import express from 'express'
import { Registry } from 'prom-client'
import { FileStore, tus } from '../../dist/esm/index.js'
import { directory, serve } from './common.mjs'

const app = express()
app.use('/files', tus({ store: new FileStore({ directory }), metrics: new Registry() }))
serve(app)
