/**
 * The browser example end to end: Uppy in headless Chromium uploads a multi-megabyte file to the example app;
 * the server drops the connection part-way through the first PATCH; Uppy's tus client asks for the offset and
 * sends the rest; the server ends up with identical bytes and the page lists the finished upload.
 */
import express from 'express'
import type { IncomingMessage } from 'node:http'
import { mkdir, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { mountBrowserExample } from '../../examples/browser/mount.js'
import { createApp } from '../../examples/express/app.js'
import { randomData, sha256, sha256File } from '../helpers/bytes.js'
import { tempDir } from '../helpers/server.js'
import { serve, type Served } from '../helpers/server.js'
import { hasChromium, launchChromium, CHROMIUM, type Browser } from './chromium.js'

const OUTPUT = fileURLToPath(new URL('../../.test-output/', import.meta.url))
const SIZE = 6 * 1024 * 1024
const CUT_AFTER = 1024 * 1024

if (!hasChromium) {
  console.warn(`skipping the browser end-to-end test: ${CHROMIUM} not found (run scripts/install-chromium.sh as root)`)
}

interface Patch {
  offset: number
  read: number
  cut: boolean
}

/** Drops the socket of the first PATCH once CUT_AFTER body bytes were read; records every PATCH. */
function connectionCutter(patches: Patch[]) {
  return (req: IncomingMessage, _res: unknown, next: () => void) => {
    if (req.method !== 'PATCH') return next()
    const entry: Patch = { offset: Number(req.headers['upload-offset']), read: 0, cut: false }
    patches.push(entry)
    const first = patches.length === 1
    const emit = req.emit
    req.emit = function (this: IncomingMessage, event: string | symbol, ...args: unknown[]): boolean {
      const result = emit.call(this, event, ...args)
      if (event === 'data') {
        entry.read += (args[0] as Buffer).length
        if (first && !entry.cut && entry.read >= CUT_AFTER) {
          entry.cut = true
          req.socket.destroy()
        }
      }
      return result
    } as typeof req.emit
    next()
  }
}

describe.skipIf(!hasChromium)('browser example in headless Chromium', () => {
  let dir: Awaited<ReturnType<typeof tempDir>>
  let served: Served
  let browser: Browser
  const patches: Patch[] = []

  beforeAll(async () => {
    dir = await tempDir('tus-e2e-')
    const { app } = createApp({ directory: dir.path })
    const outer = express()
    outer.use(connectionCutter(patches))
    outer.use(app)
    await mountBrowserExample(outer)
    served = await serve(outer)
    browser = await launchChromium()
  })
  afterAll(async () => {
    await browser?.close()
    await served?.close()
    await dir?.remove()
  })

  it('uploads a 6 MB file through a dropped connection and lists it, with identical bytes on the server', async () => {
    const data = randomData(SIZE)
    const source = join(dir.path, 'holiday-video.bin')
    await writeFile(source, data)

    const page = await browser.context.newPage()
    const errors: string[] = []
    page.on('pageerror', (err) => errors.push(err.message))
    await page.goto(`${served.origin}/`)
    await page.locator('#finished li.empty').waitFor()

    await page.locator('.uppy-Dashboard input[type=file]').first().setInputFiles(source)
    await page.locator('.uppy-StatusBar-actionBtn--upload').click()

    const listed = page.locator('#finished li[data-id]')
    await listed.first().waitFor({ timeout: 90_000 })
    await page.locator('.uppy-StatusBar.is-complete').waitFor()
    expect(await listed.count()).toBe(1)
    expect(await listed.first().locator('strong').textContent()).toBe('holiday-video.bin')
    const id = (await listed.first().getAttribute('data-id'))!

    // The connection really was cut, and the retry continued from the server's offset.
    expect(patches[0]!.cut).toBe(true)
    expect(patches.length).toBeGreaterThanOrEqual(2)
    const resumedAt = patches[patches.length - 1]!.offset
    expect(resumedAt).toBeGreaterThanOrEqual(CUT_AFTER)
    expect(patches.reduce((n, p) => n + p.read, 0)).toBeLessThan(SIZE + CUT_AFTER)

    // The server holds exactly the file that was picked, in the store and in the library the hook filled.
    expect(await sha256File(join(dir.path, 'incoming', `${id}.bin`))).toBe(sha256(data))
    const res = await fetch(`${served.origin}/api/uploads`, { headers: { Authorization: 'Bearer alice-token' } })
    const library = (await res.json()) as Array<{ id: string; filename: string; size: number; path: string }>
    expect(library).toHaveLength(1)
    expect(library[0]).toMatchObject({ id, filename: 'holiday-video.bin', size: SIZE })
    expect(await sha256File(library[0].path)).toBe(sha256(data))
    expect(errors).toEqual([])

    await mkdir(OUTPUT, { recursive: true })
    await page.screenshot({ path: join(OUTPUT, 'browser-upload.png'), fullPage: true })
  }, 150_000)
})
