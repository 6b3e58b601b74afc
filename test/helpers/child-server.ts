/** A FileStore tus server in a child process (test/fixtures/file-server.mjs), which tests may SIGKILL. */
import { spawn, type ChildProcess } from 'node:child_process'
import { fileURLToPath } from 'node:url'
import { afterAll, beforeAll } from 'vitest'
import { tempDir } from './server.js'

const script = fileURLToPath(new URL('../fixtures/file-server.mjs', import.meta.url))

export interface ChildServer {
  url: string
  origin: string
  process: ChildProcess
  /** Everything the child printed on stdout so far. */
  output(): string
  kill(): Promise<void>
}

/**
 * Starts the fixture on `directory`. `env` adds to the environment (see file-server.mjs: EXPIRE_AFTER_MS,
 * CLEANUP_INTERVAL_MS, LOG_EXPIRED).
 */
export function startChildServer(directory: string, port = 0, env: Record<string, string> = {}): Promise<ChildServer> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [script, directory, String(port)], {
      stdio: ['ignore', 'pipe', 'inherit'],
      env: { ...process.env, ...env },
    })
    let out = ''
    let resolved = false
    child.once('error', reject)
    child.once('exit', (code) => reject(new Error(`server exited early with ${code}`)))
    child.stdout!.on('data', (d) => {
      out += d
      if (resolved) return
      const match = /listening (\d+)/.exec(out)
      if (!match) return
      resolved = true
      child.removeAllListeners('exit')
      const origin = `http://127.0.0.1:${match[1]}`
      resolve({
        url: `${origin}/files`,
        origin,
        process: child,
        output: () => out,
        kill: () =>
          new Promise<void>((done) => {
            if (child.exitCode !== null || child.signalCode !== null) return done()
            child.once('exit', () => done())
            child.kill('SIGKILL')
          }),
      })
    })
  })
}

/**
 * For a crash test file: a temp directory for the whole file, and `start()` for a child server on it. After the
 * file, the last server started is killed and the directory removed.
 */
export function useCrashDirectory(prefix: string): { readonly path: string; start(env?: Record<string, string>): Promise<ChildServer> } {
  let dir: { path: string; remove(): Promise<void> } | undefined
  let child: ChildServer | undefined
  beforeAll(async () => {
    dir = await tempDir(prefix)
  })
  afterAll(async () => {
    await child?.kill()
    await dir?.remove()
  })
  return {
    get path() {
      return dir!.path
    },
    async start(env = {}) {
      child = await startChildServer(dir!.path, 0, env)
      return child
    },
  }
}
