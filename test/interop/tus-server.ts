/**
 * An Express app with the middleware on a FileStore, for real clients. It records every request that carried
 * upload bytes (declared Content-Length, and bytes the middleware actually read), and can be restarted on the
 * same port and directory.
 */
import express from 'express'
import type { IncomingMessage, Server } from 'node:http'
import type { AddressInfo } from 'node:net'
import { join } from 'node:path'
import { FileStore, tus, type TusMiddleware, type Upload } from 'tus-middleware'
import { afterEach, beforeEach } from 'vitest'
import { sha256File } from '../helpers/bytes.js'
import { tempDir } from '../helpers/server.js'

export interface BodyRequest {
  method: string
  url: string
  /** Upload-Offset the client sent (PATCH). */
  offset: number | undefined
  /** Content-Length as sent by the client (undefined when chunked). */
  declared: number | undefined
  /** Bytes the middleware read from this request's body. */
  read: number
  /** Which server received it: 0 before the first restart, 1 after it, ... */
  generation: number
}

export interface InteropServer {
  /** Collection URL, e.g. http://127.0.0.1:1234/files */
  endpoint: string
  origin: string
  port: number
  directory: string
  uploads: TusMiddleware
  /** Every POST/PATCH, in arrival order, across restarts. */
  bodies: BodyRequest[]
  completed: Upload[]
  close(): Promise<void>
  /** Stops this server and starts a fresh middleware on the same port and directory. */
  restart(pauseMs?: number): Promise<void>
  storedHash(id: string): Promise<string>
}

/** Counts the bytes handed to listeners, without adding one (which would start the stream flowing early). */
function countRead(req: IncomingMessage, entry: BodyRequest): void {
  const emit = req.emit
  req.emit = function countingEmit(this: IncomingMessage, event: string | symbol, ...args: unknown[]): boolean {
    if (event === 'data') entry.read += (args[0] as Buffer).length
    return emit.call(this, event, ...args)
  } as typeof req.emit
}

export async function startInteropServer(directory: string): Promise<InteropServer> {
  const bodies: BodyRequest[] = []
  const completed: Upload[] = []
  let server: Server
  let uploads: TusMiddleware
  let generation = -1

  const listen = async (port: number): Promise<number> => {
    const current = ++generation
    uploads = tus({ store: new FileStore({ directory }) })
    uploads.on('completed', (upload) => void completed.push(upload))
    const app = express()
    app.use('/files', (req, _res, next) => {
      if (req.method === 'POST' || req.method === 'PATCH') {
        const length = req.headers['content-length']
        const offset = req.headers['upload-offset']
        const entry: BodyRequest = {
          method: req.method,
          url: req.originalUrl,
          offset: offset === undefined ? undefined : Number(offset),
          declared: length === undefined ? undefined : Number(length),
          read: 0,
          generation: current,
        }
        bodies.push(entry)
        countRead(req, entry)
      }
      next()
    }, uploads)
    server = app.listen(port, '127.0.0.1')
    await new Promise<void>((resolve, reject) => server.once('listening', resolve).once('error', reject))
    return (server.address() as AddressInfo).port
  }

  const stop = (): Promise<void> =>
    new Promise((resolve) => {
      server.closeAllConnections()
      server.close(() => resolve())
    })

  const port = await listen(0)
  const origin = `http://127.0.0.1:${port}`
  const self: InteropServer = {
    endpoint: `${origin}/files`,
    origin,
    port,
    directory,
    get uploads() {
      return uploads
    },
    bodies,
    completed,
    close: stop,
    async restart(pauseMs = 200) {
      await stop()
      await new Promise((resolve) => setTimeout(resolve, pauseMs))
      await listen(port)
    },
    storedHash: (id) => sha256File(join(directory, `${id}.bin`)),
  }
  return self
}

/** A fresh server on a fresh FileStore directory for each test of the calling suite; call it in a describe. */
export function useInteropServer(): () => InteropServer {
  let server: InteropServer | undefined
  let dir: Awaited<ReturnType<typeof tempDir>> | undefined
  beforeEach(async () => {
    dir = await tempDir()
    server = await startInteropServer(dir.path)
  })
  afterEach(async () => {
    await server?.close()
    await dir?.remove()
  })
  return () => server!
}
