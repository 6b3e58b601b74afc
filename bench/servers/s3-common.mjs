// Shared by the S3 benchmark processes: the S3 client settings (from the environment bench/s3.mjs sets).
const env = process.env
export const bucket = env.S3_BUCKET
export const partSize = Number(env.BENCH_PART_SIZE)
export const s3Config = {
  endpoint: env.S3_ENDPOINT,
  region: 'us-east-1',
  forcePathStyle: true,
  credentials: { accessKeyId: env.S3_ACCESS_KEY, secretAccessKey: env.S3_SECRET_KEY },
  // Ceph RGW refuses the SDK's default checksums on some calls; no checksums for every contender alike.
  requestChecksumCalculation: 'WHEN_REQUIRED',
  responseChecksumValidation: 'WHEN_REQUIRED',
}
