/**
 * Raw node:http requests for protocol tests: exact headers, chunked bodies with trailers, no client magic.
 */
import { request } from 'node:http'
import { OCTET, TUS } from './tus.js'

export interface Response {
  status: number
  headers: Record<string, string | string[] | undefined>
  body: Buffer
  /** A header's value as a string ('' when absent). */
  header(name: string): string
}

export interface SendOptions {
  headers?: Record<string, string | number>
  body?: Buffer | string
  /** Send the body chunked, in these pieces, then these trailers. */
  chunks?: Array<Buffer | string>
  trailers?: Record<string, string>
}

export function send(method: string, url: string, options: SendOptions = {}): Promise<Response> {
  return new Promise((resolve, reject) => {
    const headers: Record<string, string | number> = { ...options.headers }
    // An explicit length: Node would send a GET's body chunked.
    if (options.body !== undefined && !Object.keys(headers).some((h) => h.toLowerCase() === 'content-length')) {
      headers['Content-Length'] = Buffer.byteLength(options.body)
    }
    const req = request(url, { method, headers }, (res) => {
      const parts: Buffer[] = []
      res.on('data', (c: Buffer) => parts.push(c))
      res.on('end', () => {
        const got = res.headers
        resolve({
          status: res.statusCode ?? 0,
          headers: got,
          body: Buffer.concat(parts),
          header: (name) => {
            const v = got[name.toLowerCase()]
            return Array.isArray(v) ? v.join(', ') : (v ?? '')
          },
        })
      })
      res.on('error', reject)
    })
    req.on('error', reject)
    if (options.chunks) {
      if (options.trailers) req.setHeader('Trailer', Object.keys(options.trailers).join(', '))
      for (const chunk of options.chunks) req.write(chunk)
      if (options.trailers) req.addTrailers(options.trailers)
      req.end()
    } else {
      req.end(options.body)
    }
  })
}

/** POST an upload; resolves with its absolute URL. */
export async function createUpload(collection: string, headers: Record<string, string | number>): Promise<string> {
  const res = await send('POST', collection, { headers: { ...TUS, ...headers } })
  if (res.status !== 201) throw new Error(`create failed: ${res.status} ${res.body}`)
  return new URL(res.header('location'), collection).href
}

export function patch(url: string, offset: number, body: Buffer | string, headers: Record<string, string | number> = {}): Promise<Response> {
  return send('PATCH', url, { headers: { ...TUS, ...OCTET, 'Upload-Offset': offset, ...headers }, body })
}

export const head = (url: string, headers: Record<string, string | number> = {}): Promise<Response> =>
  send('HEAD', url, { headers: { ...TUS, ...headers } })
