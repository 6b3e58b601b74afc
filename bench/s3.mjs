// 256 MiB into S3 (S3_ENDPOINT etc., e.g. from scripts/ceph-s3.sh): one PATCH through the middleware and S3Store,
// then the same bytes as a direct multipart upload with the SDK (same part size, parts sent one at a time).
// Usage: npm run build && S3_ENDPOINT=http://127.0.0.1:7480 node bench/s3.mjs [MiB] [partMiB]
import { CompleteMultipartUploadCommand, CreateMultipartUploadCommand, S3Client, UploadPartCommand } from '@aws-sdk/client-s3'
import { randomBytes } from 'node:crypto'
import { createServer, request } from 'node:http'
import { tus } from '../dist/esm/index.js'
import { S3Store } from '../dist/esm/s3/index.js'

const MiB = 1024 * 1024
const size = Number(process.argv[2] ?? 256) * MiB
const partSize = Number(process.argv[3] ?? 8) * MiB
const env = process.env
const config = {
  endpoint: env.S3_ENDPOINT ?? 'http://127.0.0.1:7480',
  region: 'us-east-1',
  forcePathStyle: true,
  credentials: { accessKeyId: env.S3_ACCESS_KEY ?? 'TESTACCESSKEY0000001', secretAccessKey: env.S3_SECRET_KEY ?? 'testsecretkey0000000000000000000000000001' },
  requestChecksumCalculation: 'WHEN_REQUIRED',
  responseChecksumValidation: 'WHEN_REQUIRED',
}
const bucket = env.S3_BUCKET ?? 'test-bucket'
const data = randomBytes(size)
const rate = (ms) => `${((size / MiB) / (ms / 1000)).toFixed(0)} MiB/s (${ms.toFixed(0)} ms)`

const store = new S3Store({ bucket, client: config, prefix: `bench-${Date.now()}/`, partSize })
const server = createServer(tus({ store, path: '/files' }))
await new Promise((r) => server.listen(0, '127.0.0.1', r))
const base = `http://127.0.0.1:${server.address().port}/files`
const created = await fetch(base, { method: 'POST', headers: { 'Tus-Resumable': '1.0.0', 'Upload-Length': String(size) } })
const url = new URL(created.headers.get('location'), base).href
const rssBefore = process.memoryUsage().rss
let t = performance.now()
await new Promise((resolve, reject) => {
  const req = request(url, { method: 'PATCH', headers: { 'Tus-Resumable': '1.0.0', 'Upload-Offset': '0', 'Content-Type': 'application/offset+octet-stream', 'Content-Length': size } }, (res) => {
    res.resume()
    res.on('end', () => (res.statusCode === 204 ? resolve() : reject(new Error(`PATCH ${res.statusCode}`))))
  })
  req.on('error', reject)
  let at = 0
  const pump = () => {
    while (at < size) {
      const ok = req.write(data.subarray(at, at + 256 * 1024))
      at += 256 * 1024
      if (!ok) return void req.once('drain', pump)
    }
    req.end()
  }
  pump()
})
const viaMiddleware = performance.now() - t
console.log(`middleware + S3Store, one PATCH: ${rate(viaMiddleware)}; RSS grew ${((process.memoryUsage().rss - rssBefore) / MiB).toFixed(0)} MiB (the 256 MiB source buffer is allocated before)`)
server.close()

const client = new S3Client(config)
const key = `bench-direct-${Date.now()}`
t = performance.now()
const { UploadId } = await client.send(new CreateMultipartUploadCommand({ Bucket: bucket, Key: key }))
const parts = []
for (let n = 1, at = 0; at < size; n++, at += partSize) {
  const body = data.subarray(at, Math.min(at + partSize, size))
  const res = await client.send(new UploadPartCommand({ Bucket: bucket, Key: key, UploadId, PartNumber: n, Body: body, ContentLength: body.length }))
  parts.push({ PartNumber: n, ETag: res.ETag })
}
await client.send(new CompleteMultipartUploadCommand({ Bucket: bucket, Key: key, UploadId, MultipartUpload: { Parts: parts } }))
console.log(`direct SDK multipart upload, sequential parts: ${rate(performance.now() - t)}`)
