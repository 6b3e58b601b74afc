import { describe, expect, it } from 'vitest'
import {
  isOffsetOctetStream,
  isSupportedVersion,
  parseDeferLength,
  parseUploadLength,
  parseUploadOffset,
} from '../../lib/protocol/headers.js'
import { formatMetadata, parseMetadata } from '../../lib/protocol/metadata.js'

describe('Upload-Offset / Upload-Length parsing', () => {
  it('accepts non-negative decimal integers', () => {
    expect(parseUploadOffset('0')).toBe(0)
    expect(parseUploadOffset('123456789')).toBe(123456789)
    expect(parseUploadLength('9007199254740991')).toBe(Number.MAX_SAFE_INTEGER)
    expect(parseUploadLength(undefined)).toBeUndefined()
  })

  it.each(['-1', '1e3', '0x10', ' 1', '1 ', '+1', '1.0', '', 'abc', '99999999999999999999', '9007199254740992', '١٢'])(
    'refuses %j with a 400 error',
    (value) => {
      expect(() => parseUploadOffset(value)).toThrow(expect.objectContaining({ code: 'INVALID_OFFSET', status: 400 }))
      expect(() => parseUploadLength(value)).toThrow(expect.objectContaining({ code: 'INVALID_LENGTH', status: 400 }))
    },
  )

  it('refuses a missing or repeated Upload-Offset', () => {
    expect(() => parseUploadOffset(undefined)).toThrow(expect.objectContaining({ code: 'MISSING_OFFSET' }))
    expect(() => parseUploadOffset(['1', '2'])).toThrow(expect.objectContaining({ code: 'INVALID_OFFSET' }))
  })

  it('accepts only "1" for Upload-Defer-Length', () => {
    expect(parseDeferLength('1')).toBe(true)
    expect(parseDeferLength(undefined)).toBe(false)
    for (const bad of ['0', 'true', ' 1', '2']) expect(() => parseDeferLength(bad)).toThrow(expect.objectContaining({ status: 400 }))
  })
})

describe('Tus-Resumable and Content-Type', () => {
  it('knows version 1.0.0 only', () => {
    expect(isSupportedVersion('1.0.0')).toBe(true)
    for (const v of [undefined, '', '0.2.2', '1.0', '2.0.0', ['1.0.0', '1.0.0']]) expect(isSupportedVersion(v)).toBe(false)
  })

  it('matches the offset media type case-insensitively, parameters ignored', () => {
    expect(isOffsetOctetStream('application/offset+octet-stream')).toBe(true)
    expect(isOffsetOctetStream('Application/Offset+Octet-Stream; charset=x')).toBe(true)
    for (const v of [undefined, 'application/octet-stream', 'text/plain', '']) expect(isOffsetOctetStream(v)).toBe(false)
  })
})

describe('Upload-Metadata', () => {
  it('decodes base64 values and keys without values', () => {
    const parsed = parseMetadata('filename d29ybGRfZG9taW5hdGlvbl9wbGFuLnBkZg==,is_confidential', 4096)
    expect(parsed).toEqual({ filename: 'world_domination_plan.pdf', is_confidential: '' })
  })

  it('round-trips through the header form', () => {
    const metadata = { filename: 'naïve résumé.txt', empty: '', type: 'text/plain' }
    expect(parseMetadata(formatMetadata(metadata), 4096)).toEqual(metadata)
  })

  it.each([
    ['duplicate keys', 'a YQ==,a Yg=='],
    ['invalid base64', 'a !!!'],
    ['bad padding', 'a YQ='],
    ['a value with a space', 'a YQ== Yg=='],
    ['control characters in key', 'a\tb YQ=='],
    ['empty pair', 'a YQ==,,b Yg=='],
    ['a repeated header', ['a YQ==', 'b Yg==']],
  ])('refuses %s', (_name, header) => {
    expect(() => parseMetadata(header as string, 4096)).toThrow(expect.objectContaining({ code: 'INVALID_METADATA', status: 400 }))
  })

  it('refuses a header over the size limit', () => {
    expect(() => parseMetadata(`a ${'QUFB'.repeat(100)}`, 100)).toThrow(expect.objectContaining({ code: 'METADATA_TOO_LARGE' }))
  })

  it('cannot be polluted through __proto__', () => {
    const parsed = parseMetadata('__proto__ YQ==', 4096)
    expect(Object.getPrototypeOf(parsed)).toBe(Object.prototype)
    expect(Object.keys(parsed)).toEqual(['__proto__'])
    expect(Object.getOwnPropertyDescriptor(parsed, '__proto__')?.value).toBe('a')
  })
})
