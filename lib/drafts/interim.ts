/**
 * The 104 (Upload Resumption Supported) interim response (draft-3 §4; draft-11 §5). Node has no API for an
 * arbitrary 1xx: writeContinue (100), writeProcessing (102) and writeEarlyHints (103) each write one fixed
 * status. Over HTTP/1.1 the status line and fields are written through the same internal path those three use
 * (OutgoingMessage#_writeRaw, which queues behind an earlier response still being written on a kept-alive
 * connection), and over HTTP/2 as an additional HEADERS frame (Http2Stream#additionalHeaders). An HTTP/1.0
 * client never gets one: 1xx responses are not defined for it (RFC 9110 §15.2).
 */
import type { ServerResponse } from 'node:http'
import type { ServerHttp2Stream } from 'node:http2'
import type { Context } from '../context.js'

/** Least milliseconds between two progress 104s of one request (the `progressInterval` option, if longer). */
const LEAST_PROGRESS_INTERVAL = 100

type RawWriter = { _writeRaw?: (data: string, encoding: BufferEncoding, cb?: () => void) => boolean }

/** Field values that cannot break the message: no CR, LF or NUL. */
const SAFE = /^[^\r\n\0]*$/

/**
 * Sends one 104 with `fields` before the final response, if the connection can carry it; returns whether it
 * did. Every 104 carries Upload-Draft-Interop-Version with the request's version (draft-3 §4.2, draft-6
 * §4.2.3, draft-11 appendix "Draft Version Identification"): a client ignores a 104 without it.
 */
export function sendUploadResumptionSupported(ctx: Context, version: number, fields: Record<string, string | number | undefined>): boolean {
  const { req, res } = ctx
  if (res.headersSent || res.writableEnded || res.destroyed) return false
  const all: Record<string, string> = { 'Upload-Draft-Interop-Version': String(version) }
  for (const [name, value] of Object.entries(fields)) {
    if (value !== undefined && SAFE.test(String(value))) all[name] = String(value)
  }
  if (req.httpVersionMajor >= 2) {
    const stream = (res as unknown as { stream?: ServerHttp2Stream }).stream
    if (!stream || stream.headersSent || stream.destroyed) return false
    const headers: Record<string, string | number> = { ':status': 104 }
    for (const [name, value] of Object.entries(all)) headers[name.toLowerCase()] = value
    stream.additionalHeaders(headers)
    return true
  }
  if (req.httpVersionMajor !== 1 || req.httpVersionMinor < 1) return false
  const writer = res as ServerResponse & RawWriter
  if (typeof writer._writeRaw !== 'function') return false
  let head = 'HTTP/1.1 104 Upload Resumption Supported\r\n'
  for (const [name, value] of Object.entries(all)) head += `${name}: ${value}\r\n`
  writer._writeRaw(`${head}\r\n`, 'latin1')
  return true
}

/**
 * While the body of an append to upload `id` streams, sends a 104 with Upload-Offset (and no Location: draft-11
 * §4.4.2 MUST NOT) at most every `progressInterval` ms, whenever the offset moved. The offset is the store's,
 * as a HEAD would report it, never bytes merely read off the socket: draft-11 §4.1.1 makes Upload-Offset in a
 * response a promise that those bytes need not be sent again. Staged bytes do not count until the end, so a
 * staged body gets none. Returns the function that stops it; call it before the final response.
 */
export function reportProgress(ctx: Context, id: string, from: number): () => void {
  const features = ctx.draft
  if (!features?.appendProgress) return () => {}
  let last = from
  let busy = false
  let stopped = false
  const tick = (): void => {
    if (busy || stopped) return
    busy = true
    ctx.options.store.get(id).then((upload) => {
      if (stopped || !upload || upload.offset <= last) return
      last = upload.offset
      if (!sendUploadResumptionSupported(ctx, features.version, { 'Upload-Offset': upload.offset })) stop()
    }, () => {}).finally(() => {
      busy = false
    })
  }
  const timer = setInterval(tick, Math.max(LEAST_PROGRESS_INTERVAL, ctx.options.progressInterval))
  timer.unref?.()
  const stop = (): void => {
    stopped = true
    clearInterval(timer)
  }
  return stop
}
