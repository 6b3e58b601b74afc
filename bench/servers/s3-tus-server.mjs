// @tus/server 2.x with @tus/s3-store on plain node:http (its default options but the part size).
import { S3Store } from '@tus/s3-store'
import { Server } from '@tus/server'
import { serve } from './common.mjs'
import { bucket, partSize, s3Config } from './s3-common.mjs'

const datastore = new S3Store({ partSize, s3ClientConfig: { bucket, ...s3Config } })
const tusServer = new Server({ path: '/files', datastore })
serve((req, res) => tusServer.handle(req, res))
