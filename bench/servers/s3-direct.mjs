// A direct multipart upload with the SDK, no HTTP server in between: `size` bytes (SOURCE repeated, the bytes
// the tus clients send) in parts of BENCH_PART_SIZE, `concurrency` parts in flight, one reused buffer per slot.
// Asked over IPC: { size, concurrency, key } → { seconds }.
import { CompleteMultipartUploadCommand, CreateMultipartUploadCommand, S3Client, UploadPartCommand } from '@aws-sdk/client-s3'
import { SOURCE } from '../http.mjs'
import { bucket, partSize, s3Config } from './s3-common.mjs'

const client = new S3Client(s3Config)

/** Part `n` (1..) of `size` bytes of SOURCE repeated, into `buf`. */
function fill(buf, n, size) {
  const start = (n - 1) * partSize
  const length = Math.min(partSize, size - start)
  for (let at = 0; at < length; ) {
    const from = (start + at) % SOURCE.length
    at += SOURCE.copy(buf, at, from, Math.min(SOURCE.length, from + length - at))
  }
  return buf.subarray(0, length)
}

async function upload({ size, concurrency, key }) {
  const t = performance.now()
  const { UploadId } = await client.send(new CreateMultipartUploadCommand({ Bucket: bucket, Key: key }))
  const count = Math.ceil(size / partSize)
  const parts = []
  let next = 1
  const worker = async () => {
    const buf = Buffer.allocUnsafe(partSize)
    while (next <= count) {
      const n = next++
      const body = fill(buf, n, size)
      const res = await client.send(new UploadPartCommand({ Bucket: bucket, Key: key, UploadId, PartNumber: n, Body: body, ContentLength: body.length }))
      parts.push({ PartNumber: n, ETag: res.ETag })
    }
  }
  await Promise.all(Array.from({ length: Math.min(concurrency, count) }, worker))
  parts.sort((a, b) => a.PartNumber - b.PartNumber)
  await client.send(new CompleteMultipartUploadCommand({ Bucket: bucket, Key: key, UploadId, MultipartUpload: { Parts: parts } }))
  return { seconds: (performance.now() - t) / 1000 }
}

process.on('message', (msg) => {
  if (msg === 'stop') process.exit(0)
  upload(msg).then(
    (r) => process.send(r),
    (err) => process.send({ error: String(err?.stack ?? err) }),
  )
})
process.on('disconnect', () => process.exit(0))
process.send({ ready: true })
