/**
 * CRC-32 (IEEE 802.3, the zlib/gzip polynomial) as a streaming hash. Uses node:zlib's crc32 where the runtime
 * has it (Node 20.15+), else a table implementation.
 */
import * as zlib from 'node:zlib'

type Crc32Fn = (data: Buffer, value?: number) => number

let table: Uint32Array | undefined

function tableCrc32(data: Buffer, value = 0): number {
  if (!table) {
    table = new Uint32Array(256)
    for (let n = 0; n < 256; n++) {
      let c = n
      for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1
      table[n] = c >>> 0
    }
  }
  let crc = (value ^ 0xffffffff) >>> 0
  for (let i = 0; i < data.length; i++) crc = table[(crc ^ data[i]) & 0xff] ^ (crc >>> 8)
  return (crc ^ 0xffffffff) >>> 0
}

const native = (zlib as unknown as { crc32?: Crc32Fn }).crc32
export const crc32: Crc32Fn = typeof native === 'function' ? native : tableCrc32
/** Exposed for tests: the fallback must agree with zlib. */
export const crc32Table: Crc32Fn = tableCrc32

/** A hash-like object: update() with chunks, digest() gives the 4 bytes, big-endian (as tusd sends them). */
export class Crc32Hash {
  private value = 0
  update(chunk: Buffer): this {
    this.value = crc32(chunk, this.value)
    return this
  }
  digest(): Buffer {
    const out = Buffer.alloc(4)
    out.writeUInt32BE(this.value >>> 0)
    return out
  }
}
