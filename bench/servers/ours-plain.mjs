// tus-middleware with its FileStore on plain node:http (no Express): shows what the router costs.
import { FileStore, tus } from '../../dist/esm/index.js'
import { directory, serve } from './common.mjs'

serve(tus({ store: new FileStore({ directory }), path: '/files' }))
