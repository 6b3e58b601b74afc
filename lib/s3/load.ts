/**
 * Loads @aws-sdk/client-s3, an optional peer dependency: only `tus-middleware/s3` needs it, so the core package
 * keeps `debug` as its one runtime dependency. Synchronous (S3Store's constructor is), through the CommonJS
 * `require` that both builds share (see ../metrics/require.cjs).
 */
import { requireOptional } from '../metrics/require.cjs'

/** The AWS SDK module, typed as S3Store uses it. */
export type S3Module = typeof import('@aws-sdk/client-s3')

export const MISSING_S3 = "S3Store needs the '@aws-sdk/client-s3' package: npm install @aws-sdk/client-s3"

const NOT_FOUND = new Set(['ERR_MODULE_NOT_FOUND', 'MODULE_NOT_FOUND'])

/**
 * Requires `specifier` (the `@aws-sdk/client-s3` package; another name only in tests). A missing package becomes
 * an Error that says what to install; any other failure (a broken installation) keeps its own error.
 */
export function loadS3(specifier = '@aws-sdk/client-s3'): S3Module {
  let mod: Partial<S3Module>
  try {
    mod = requireOptional(specifier) as Partial<S3Module>
  } catch (err) {
    const code = (err as { code?: unknown })?.code
    if (typeof code === 'string' && NOT_FOUND.has(code) && String((err as Error).message).includes(`'${specifier}'`)) {
      throw new Error(MISSING_S3, { cause: err })
    }
    throw err
  }
  for (const member of ['S3Client', 'GetObjectCommand', 'UploadPartCommand'] as const) {
    if (typeof mod?.[member] !== 'function') {
      throw new Error(`S3Store: '${specifier}' has no ${member}; install AWS SDK v3: npm install @aws-sdk/client-s3`)
    }
  }
  return mod as S3Module
}
