/**
 * What tus requests carry, and the parts of upload URLs that tests need.
 */

/** The protocol version header every tus request but OPTIONS carries (spec: Tus-Resumable). */
export const TUS = { 'Tus-Resumable': '1.0.0' } as const

/** The body type a PATCH must declare (spec: PATCH). */
export const OCTET = { 'Content-Type': 'application/offset+octet-stream' } as const

/** Path of an upload, from an absolute URL or a Location header. */
export const pathOf = (location: string): string => new URL(location, 'http://x').pathname

/** The upload id at the end of an upload URL. */
export const idOf = (url: string): string => decodeURIComponent(url.slice(url.lastIndexOf('/') + 1))
