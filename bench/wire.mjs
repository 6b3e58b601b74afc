// A minimal HTTP/1.1 keep-alive client over raw sockets, for the benchmark only: it costs far less CPU per
// request than node:http, so that the client is not what limits HEAD and small-upload rates. One request in
// flight per connection (no pipelining); responses are framed by Content-Length, chunked encoding, or (for
// HEAD, 204 and 304) no body.
import { connect } from 'node:net'

const CRLF2 = Buffer.from('\r\n\r\n')

class Connection {
  constructor(port) {
    this.socket = connect({ port, host: '127.0.0.1', noDelay: true })
    this.buffer = Buffer.alloc(0)
    this.pending = undefined
    this.socket.on('data', (chunk) => this.onData(chunk))
    this.socket.on('error', (err) => this.fail(err))
    this.socket.on('close', () => this.fail(new Error('connection closed')))
  }

  fail(err) {
    this.dead = true
    const p = this.pending
    this.pending = undefined
    p?.reject(err)
  }

  /** Sends a request head, then `size` body bytes from `source` (repeated); resolves with the response. */
  request(head, size, source) {
    return new Promise((resolve, reject) => {
      this.pending = { resolve, reject, isHead: head.startsWith('HEAD ') }
      const socket = this.socket
      socket.write(head)
      let left = size
      const pump = () => {
        while (left > 0) {
          const n = Math.min(left, source.length)
          left -= n
          if (!socket.write(n === source.length ? source : source.subarray(0, n))) return void socket.once('drain', pump)
        }
      }
      pump()
    })
  }

  onData(chunk) {
    this.buffer = this.buffer.length === 0 ? chunk : Buffer.concat([this.buffer, chunk])
    const p = this.pending
    if (!p) return
    if (!p.res) {
      const end = this.buffer.indexOf(CRLF2)
      if (end === -1) return
      const lines = this.buffer.toString('latin1', 0, end).split('\r\n')
      const headers = {}
      for (let i = 1; i < lines.length; i++) {
        const colon = lines[i].indexOf(':')
        headers[lines[i].slice(0, colon).toLowerCase()] = lines[i].slice(colon + 1).trim()
      }
      const status = Number(lines[0].slice(9, 12))
      p.res = { status, headers }
      this.buffer = this.buffer.subarray(end + 4)
      const noBody = p.isHead || status === 204 || status === 304
      p.chunked = !noBody && /chunked/i.test(headers['transfer-encoding'] ?? '')
      p.bodyLeft = noBody || p.chunked ? 0 : Number(headers['content-length'] ?? 0)
      if (headers.connection === 'close') this.dead = true
    }
    if (p.chunked) {
      const end = this.buffer.indexOf('0\r\n\r\n')
      if (end === -1) return
      this.buffer = this.buffer.subarray(end + 5)
    } else {
      if (this.buffer.length < p.bodyLeft) return
      this.buffer = this.buffer.subarray(p.bodyLeft)
    }
    this.pending = undefined
    p.resolve(p.res)
  }

  close() {
    this.socket.destroy()
  }
}

/** A pool of keep-alive connections to one server. */
export class Client {
  constructor(origin) {
    const url = new URL(origin)
    this.port = Number(url.port)
    this.host = url.host
    this.idle = []
    this.all = new Set()
  }

  async send(path, method, headers, size, source) {
    let conn = this.idle.pop()
    if (!conn || conn.dead) {
      conn = new Connection(this.port)
      this.all.add(conn)
    }
    let head = `${method} ${path} HTTP/1.1\r\nHost: ${this.host}\r\n`
    for (const key of Object.keys(headers)) head += `${key}: ${headers[key]}\r\n`
    const res = await conn.request(`${head}\r\n`, size, source)
    if (!conn.dead) this.idle.push(conn)
    else this.all.delete(conn)
    return res
  }

  close() {
    for (const conn of this.all) conn.close()
    this.all.clear()
    this.idle = []
  }
}
