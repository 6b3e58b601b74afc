/**
 * A Ceph RADOS Gateway (S3) for S3Store's tests: the one named by S3_ENDPOINT (started by CI with
 * scripts/ceph-s3.sh), else one this test file starts on free ports and stops afterwards. When neither is
 * possible (Ceph not installed) the S3 tests are skipped, saying why.
 */
import { S3Client, type S3ClientConfig } from '@aws-sdk/client-s3'
import { execFile } from 'node:child_process'
import { randomBytes } from 'node:crypto'
import { fileURLToPath } from 'node:url'
import { afterAll } from 'vitest'
import { freePort } from '../helpers/free-port.js'
import { S3Store, type S3StoreOptions } from '../../lib/s3/index.js'

const script = fileURLToPath(new URL('../../scripts/ceph-s3.sh', import.meta.url))

export interface Rgw {
  endpoint: string
  bucket: string
  config: S3ClientConfig
  /** A fresh client (each has its own middleware stack, for counting or failing calls). */
  client(): S3Client
  /** An S3Store under a prefix of its own, so that tests never see each other's objects. */
  store(options?: Partial<S3StoreOptions>): S3Store
}

export type RgwOrSkip = { rgw: Rgw; skip?: undefined } | { rgw?: undefined; skip: string }


const SKIP = 'Ceph RGW not available: run scripts/install-ceph.sh; skipping S3Store tests'

const run = (args: string[], env: Record<string, string>): Promise<string> =>
  new Promise((resolve, reject) => {
    execFile(script, args, { env: { ...process.env, ...env }, timeout: 120_000 }, (err, stdout, stderr) => {
      if (err) reject(Object.assign(err, { stderr, stdout }))
      else resolve(stdout)
    })
  })

function make(endpoint: string, bucket: string, accessKeyId: string, secretAccessKey: string): Rgw {
  const config: S3ClientConfig = {
    endpoint,
    region: 'us-east-1',
    forcePathStyle: true,
    credentials: { accessKeyId, secretAccessKey },
    requestChecksumCalculation: 'WHEN_REQUIRED',
    responseChecksumValidation: 'WHEN_REQUIRED',
  }
  return {
    endpoint,
    bucket,
    config,
    client: () => new S3Client(config),
    store: (options = {}) => new S3Store({ bucket, client: config, prefix: `t-${randomBytes(6).toString('hex')}/`, ...options }),
  }
}

/** Call at the top level of a test file: `const { rgw, skip } = await useRgw()`. */
export async function useRgw(): Promise<RgwOrSkip> {
  const env = process.env
  if (env.S3_ENDPOINT) {
    return { rgw: make(env.S3_ENDPOINT, env.S3_BUCKET ?? 'test-bucket', env.S3_ACCESS_KEY ?? 'TESTACCESSKEY0000001', env.S3_SECRET_KEY ?? 'testsecretkey0000000000000000000000000001') }
  }
  const ports = { MON_PORT: String(await freePort()), RGW_PORT: String(await freePort()) }
  let out: string
  try {
    out = await run([], ports)
  } catch (err) {
    const e = err as { code?: number; stderr?: string }
    const why = e.code === 3 ? SKIP : `${SKIP} (scripts/ceph-s3.sh failed: ${String(e.stderr ?? err).trim().split('\n').slice(-3).join(' | ')})`
    console.warn(why)
    await run(['stop'], ports).catch(() => {})
    return { skip: why }
  }
  afterAll(() => run(['stop'], ports).then(() => undefined), 60_000)
  const vars = Object.fromEntries([...out.matchAll(/(S3_\w+)=(\S+)/g)].map((m) => [m[1], m[2]]))
  return { rgw: make(vars.S3_ENDPOINT, vars.S3_BUCKET, vars.S3_ACCESS_KEY, vars.S3_SECRET_KEY) }
}
