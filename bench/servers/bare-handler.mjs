// The practical limit's handler: a minimal tus-ish handler that stores PATCH bodies by appending them to a file.
// It answers just enough of tus for every workload to run (no validation, no metadata file, no locking):
// POST creates an empty file (201 + Location), HEAD stats it (Upload-Offset), PATCH appends the body.
import { randomBytes } from 'node:crypto'
import { createWriteStream } from 'node:fs'
import { stat, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { pipeline } from 'node:stream/promises'
import { directory } from './common.mjs'

/** The handler; `prefix` is what precedes the id in req.url ('/files/' on node:http, '/' when mounted). */
export function bareHandler(prefix) {
  const lengths = new Map()
  const fileOf = (url) => join(directory, url.slice(prefix.length))
  return async (req, res) => {
    try {
      if (req.method === 'POST') {
        const id = randomBytes(16).toString('hex')
        await writeFile(join(directory, id), '', { flag: 'wx' })
        lengths.set(id, req.headers['upload-length'])
        res.writeHead(201, { 'Tus-Resumable': '1.0.0', Location: `/files/${id}`, 'Content-Length': 0 })
        return res.end()
      }
      if (req.method === 'HEAD') {
        const { size } = await stat(fileOf(req.url))
        res.writeHead(200, {
          'Tus-Resumable': '1.0.0',
          'Upload-Offset': size,
          'Upload-Length': lengths.get(req.url.slice(prefix.length)),
          'Cache-Control': 'no-store',
        })
        return res.end()
      }
      if (req.method === 'PATCH') {
        const out = createWriteStream(fileOf(req.url), { flags: 'a' })
        await pipeline(req, out)
        res.writeHead(204, { 'Tus-Resumable': '1.0.0', 'Upload-Offset': Number(req.headers['upload-offset']) + out.bytesWritten })
        return res.end()
      }
      if (req.method === 'OPTIONS') {
        res.writeHead(204, { 'Tus-Resumable': '1.0.0', 'Tus-Version': '1.0.0', 'Tus-Extension': 'creation' })
        return res.end()
      }
      res.writeHead(405, { 'Content-Length': 0 }).end()
    } catch (err) {
      res.writeHead(500, { 'Content-Length': 0, Connection: 'close' }).end()
    }
  }
}
