// tus-middleware with S3Store on plain node:http, from the built package (npm run build).
import { tus } from '../../dist/esm/index.js'
import { S3Store } from '../../dist/esm/s3/index.js'
import { serve } from './common.mjs'
import { bucket, partSize, s3Config } from './s3-common.mjs'

const partConcurrency = process.env.BENCH_PART_CONCURRENCY ? Number(process.env.BENCH_PART_CONCURRENCY) : undefined
const store = new S3Store({ bucket, client: s3Config, prefix: 'ours/', partSize, partConcurrency, maxSize: 8 * 1024 ** 3 })
serve(tus({ store, path: '/files' }))
