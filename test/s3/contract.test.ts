// The store contract, run against S3Store on a real S3 implementation (Ceph RGW; skipped when it is not installed).
import { describe, it } from 'vitest'
import { storeContract } from '../../lib/testing/index.js'
import { useRgw } from './rgw.js'

const { rgw, skip } = await useRgw()

if (rgw) {
  storeContract('S3Store on Ceph RGW', () => rgw.store({ partSize: 5 * 1024 * 1024 }))
} else {
  describe('DataStore contract: S3Store on Ceph RGW', () => {
    it.skip(skip!, () => {})
  })
}
