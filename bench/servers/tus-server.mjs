// @tus/server 2.x with @tus/file-store, mounted in Express 5 as its README shows.
import { FileStore } from '@tus/file-store'
import { Server } from '@tus/server'
import express from 'express'
import { directory, serve } from './common.mjs'

const tusServer = new Server({ path: '/files', datastore: new FileStore({ directory }) })
const app = express()
const handle = (req, res) => tusServer.handle(req, res)
app.all('/files', handle)
app.all('/files/*splat', handle)
serve(app)
