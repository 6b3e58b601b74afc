// Bare in Express: the minimal handler of bare-handler.mjs mounted with app.use('/files', …) in Express 5.
// What Express itself costs per request: the ceiling for any middleware mounted the same way.
import express from 'express'
import { bareHandler } from './bare-handler.mjs'
import { serve } from './common.mjs'

const app = express()
app.use('/files', bareHandler('/'))
serve(app)
