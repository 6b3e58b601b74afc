/**
 * Several instances of test/fixtures/instance-server.mjs (Express + S3Store + RedisLocker, from dist) as child
 * processes, behind an HAProxy started by scripts/balancer.sh (installed by scripts/install-haproxy.sh when
 * missing), and what they printed.
 */
import { execFile, spawn, type ChildProcess } from 'node:child_process'
import { freePort } from '../helpers/free-port.js'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'

const root = fileURLToPath(new URL('../../', import.meta.url))
const fixture = join(root, 'test/fixtures/instance-server.mjs')
const balancerScript = join(root, 'scripts/balancer.sh')
export { freePort }

const installScript = join(root, 'scripts/install-haproxy.sh')


/** Installs HAProxy when missing; resolves with why it cannot be had, or undefined when it is there. */
export function haproxyUnavailable(): Promise<string | undefined> {
  return new Promise((resolve) => {
    execFile(installScript, { timeout: 300_000 }, (err, _stdout, stderr) => {
      if (!err) return resolve(undefined)
      const why = stderr.trim().split('\n').pop() || err.message
      const message = `HAProxy not available (${why}); skipping the several-instances test`
      console.warn(message)
      resolve(message)
    })
  })
}

const exited = (proc: ChildProcess): Promise<void> =>
  proc.exitCode !== null || proc.signalCode !== null ? Promise.resolve() : new Promise((r) => proc.once('exit', () => r()))

export interface Event {
  instance: string
  kind: 'req' | 'res' | 'completed' | 's3'
  words: string[]
}

export class Instance {
  process!: ChildProcess
  /** Everything printed on stdout by every process this instance ran (it may be killed and started again). */
  private text = ''
  /** The same lines, each with the time it arrived: what a failed test prints. */
  private readonly timed: Array<[number, string]> = []
  private partial = ''

  constructor(readonly name: string, readonly port: number, private readonly env: Record<string, string>) {}

  start(): Promise<void> {
    return new Promise((resolve, reject) => {
      const child = spawn(process.execPath, [fixture], {
        env: { ...process.env, ...this.env, INSTANCE: this.name, PORT: String(this.port) },
        stdio: ['ignore', 'pipe', 'inherit'],
      })
      this.process = child
      this.partial = ''
      const before = this.text.length
      child.once('error', reject)
      child.once('exit', (code, signal) => reject(new Error(`${this.name} exited early (${code ?? signal})`)))
      child.stdout!.on('data', (d) => {
        this.text += d
        const lines = (this.partial + d).split('\n')
        this.partial = lines.pop()!
        for (const line of lines) this.timed.push([Date.now(), `${this.name}: ${line}`])
        if (/^listening \d+$/m.test(this.text.slice(before))) {
          child.removeAllListeners('exit')
          resolve()
        }
      })
    })
  }

  /** Lines printed at or after `since` (ms since the epoch), with their times. */
  linesSince(since: number): Array<[number, string]> {
    return this.timed.filter(([t]) => t >= since)
  }

  events(): Event[] {
    return this.text
      .split('\n')
      .map((line) => line.split(' '))
      .filter((w) => w[0] === 'req' || w[0] === 'res' || w[0] === 'completed' || w[0] === 's3')
      .map((w) => ({ instance: this.name, kind: w[0] as Event['kind'], words: w.slice(1) }))
  }

  /** Requests whose `req` line was printed with no `res` line after it, e.g. `PATCH /files/<id>`. */
  open(): string[] {
    const open: string[] = []
    for (const e of this.events()) {
      if (e.kind === 'req') open.push(e.words.join(' '))
      if (e.kind === 'res') {
        const i = open.indexOf(e.words.slice(1).join(' '))
        if (i >= 0) open.splice(i, 1)
      }
    }
    return open
  }

  /** The S3 calls made since `request` (e.g. `PATCH /files/<id>`) last arrived, while it is still open. */
  callsDuring(request: string): string[] | undefined {
    const events = this.events()
    let start = -1
    events.forEach((e, i) => {
      if (e.kind === 'req' && e.words.join(' ') === request) start = i
    })
    if (start < 0) return undefined
    const after = events.slice(start + 1)
    if (after.some((e) => e.kind === 'res' && e.words.slice(1).join(' ') === request)) return undefined
    return after.filter((e) => e.kind === 's3').map((e) => e.words[0]!)
  }

  kill(signal: NodeJS.Signals = 'SIGKILL'): Promise<void> {
    if (this.process.exitCode === null && this.process.signalCode === null) this.process.kill(signal)
    return exited(this.process)
  }
}

export class Balancer {
  private stderr = ''

  private constructor(readonly process: ChildProcess, readonly port: number) {}

  get url(): string {
    return `http://127.0.0.1:${this.port}/files`
  }

  static async start(ports: number[], config: string): Promise<Balancer> {
    const port = await freePort()
    const child = spawn(balancerScript, [String(port), ...ports.map(String)], {
      env: { ...process.env, CONFIG: config },
      stdio: ['ignore', 'inherit', 'pipe'],
    })
    const balancer = new Balancer(child, port)
    child.stderr!.on('data', (d) => (balancer.stderr += d))
    // Ready once it accepts connections.
    for (let i = 0; i < 100; i++) {
      if (child.exitCode !== null) throw new Error(`balancer exited: ${balancer.stderr}`)
      const ok = await fetch(`http://127.0.0.1:${port}/stats`).then(() => true, () => false)
      if (ok) return balancer
      await new Promise((r) => setTimeout(r, 50))
    }
    throw new Error(`balancer did not start: ${balancer.stderr}`)
  }

  /** What HAProxy printed (servers going down and up). */
  log(): string {
    return this.stderr
  }

  stop(): Promise<void> {
    if (this.process.exitCode === null && this.process.signalCode === null) this.process.kill('SIGTERM')
    return exited(this.process)
  }
}
