/**
 * `tus-middleware/s3`: S3Store, uploads in an S3 bucket (multipart uploads). Needs `@aws-sdk/client-s3` (v3), an
 * optional peer dependency.
 */
export { S3Store, type S3StoreOptions, S3_MIN_PART_SIZE, S3_MAX_PART_SIZE, S3_MAX_PARTS, S3_MAX_OBJECT_SIZE } from './s3-store.js'
export { loadS3, MISSING_S3, type S3Module } from './load.js'
