/**
 * HTTP/2 test servers and a small node:http2 client: a handler served over cleartext h2c, or over TLS with
 * HTTP/1.1 allowed (a self-signed certificate made with openssl at test time), and a promise-returning request.
 */
import { execFileSync } from 'node:child_process'
import { readFileSync } from 'node:fs'
import http2, {
  type ClientHttp2Session,
  type ClientHttp2Stream,
  type Http2SecureServer,
  type Http2Server,
  type IncomingHttpHeaders,
  type OutgoingHttpHeaders,
} from 'node:http2'
import type { AddressInfo } from 'node:net'
import { join } from 'node:path'
import { tempDir } from './server.js'

export type H2Handler = (req: http2.Http2ServerRequest, res: http2.Http2ServerResponse) => void

export interface H2Served {
  /** e.g. http://127.0.0.1:1234 or https://127.0.0.1:1234 */
  origin: string
  server: Http2Server | Http2SecureServer
  /** Opens a client session (closed by close()). */
  connect(): ClientHttp2Session
  close(): Promise<void>
}

let certificate: { key: Buffer; cert: Buffer } | undefined

/** A self-signed certificate for localhost, made once per test file. */
export async function selfSigned(): Promise<{ key: Buffer; cert: Buffer }> {
  if (certificate) return certificate
  const dir = await tempDir('tus-h2-cert-')
  try {
    const key = join(dir.path, 'key.pem')
    const cert = join(dir.path, 'cert.pem')
    execFileSync('openssl', ['req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-subj', '/CN=localhost', '-days', '1', '-keyout', key, '-out', cert], { stdio: 'ignore' })
    certificate = { key: readFileSync(key), cert: readFileSync(cert) }
    return certificate
  } finally {
    await dir.remove()
  }
}

/** Serves `handler` over h2c (`tls: false`) or over TLS with allowHTTP1. */
export async function serveH2(handler: H2Handler, tls: boolean): Promise<H2Served> {
  const server = tls
    ? http2.createSecureServer({ ...(await selfSigned()), allowHTTP1: true }, handler)
    : http2.createServer(handler)
  const sessions = new Set<http2.ServerHttp2Session>()
  server.on('session', (session) => {
    sessions.add(session)
    session.on('close', () => sessions.delete(session))
  })
  const sockets = new Set<import('node:net').Socket>()
  server.on('secureConnection', (socket) => {
    sockets.add(socket)
    socket.on('close', () => sockets.delete(socket))
  })
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  const { port } = server.address() as AddressInfo
  const origin = `${tls ? 'https' : 'http'}://127.0.0.1:${port}`
  const clients = new Set<ClientHttp2Session>()
  return {
    origin,
    server,
    connect() {
      const session = http2.connect(origin, { rejectUnauthorized: false })
      session.on('error', () => {})
      clients.add(session)
      return session
    },
    close: () =>
      new Promise<void>((resolve) => {
        for (const client of clients) client.destroy()
        for (const session of sessions) session.destroy()
        for (const socket of sockets) socket.destroy()
        server.close(() => resolve())
      }),
  }
}

export interface H2Response {
  status: number
  headers: IncomingHttpHeaders
  body: Buffer
}

export interface H2RequestOptions {
  /** Sent as HTTP/2 trailers after the body. */
  trailers?: OutgoingHttpHeaders
}

/** Collects a response on an open stream. */
export function responseOf(stream: ClientHttp2Stream): Promise<H2Response> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = []
    let headers: IncomingHttpHeaders | undefined
    stream.on('response', (h) => (headers = h))
    stream.on('data', (chunk: Buffer) => chunks.push(chunk))
    stream.on('end', () => {
      if (!headers) return reject(new Error('stream ended without a response'))
      resolve({ status: Number(headers[':status']), headers, body: Buffer.concat(chunks) })
    })
    stream.on('error', reject)
  })
}

/** One request on `session`; a body is sent without Content-Length unless the headers carry one. */
export function request(
  session: ClientHttp2Session,
  method: string,
  path: string,
  headers: OutgoingHttpHeaders = {},
  body?: Buffer | string,
  options: H2RequestOptions = {},
): Promise<H2Response> {
  const { trailers } = options
  const endStream = body === undefined && !trailers
  const stream = session.request({ ':method': method, ':path': path, ...headers }, { endStream, waitForTrailers: trailers !== undefined })
  if (trailers) stream.on('wantTrailers', () => stream.sendTrailers(trailers))
  const response = responseOf(stream)
  if (!endStream) stream.end(body)
  return response
}
