// Without the optional @aws-sdk/client-s3 package, S3Store says what to install (and the core never needs it).
import { describe, expect, it } from 'vitest'
import { loadS3, MISSING_S3, S3Store } from '../../lib/s3/index.js'

describe('loading @aws-sdk/client-s3', () => {
  it('loads the SDK', () => {
    expect(typeof loadS3().S3Client).toBe('function')
  })

  it('names the package to install when it is missing', () => {
    expect(() => loadS3('aws-sdk-client-s3-that-is-not-installed')).toThrow(
      "S3Store needs the '@aws-sdk/client-s3' package: npm install @aws-sdk/client-s3",
    )
    expect(() => new S3Store({ bucket: 'b', client: {}, sdkModule: 'aws-sdk-client-s3-that-is-not-installed' })).toThrow(MISSING_S3)
  })

  it('refuses a module that is not the SDK', () => {
    expect(() => loadS3('node:fs')).toThrow(/node:fs' has no S3Client/)
  })
})
