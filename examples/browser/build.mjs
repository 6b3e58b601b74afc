// Bundles the browser example (Uppy from npm, no CDN) into public/bundle.js and public/bundle.css.
// `node examples/browser/build.mjs`, or buildBrowserExample() from code; esbuild takes well under a second.
import { build } from 'esbuild'
import { fileURLToPath } from 'node:url'

const here = (path) => fileURLToPath(new URL(path, import.meta.url))

export const publicDirectory = here('./public')

export async function buildBrowserExample({ minify = true } = {}) {
  await build({
    entryPoints: { bundle: here('./src/main.js') },
    outdir: publicDirectory,
    bundle: true,
    minify,
    format: 'iife',
    target: ['es2020'],
    logLevel: 'warning',
    legalComments: 'none',
  })
  return publicDirectory
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  await buildBrowserExample()
  console.log(`browser example built into ${publicDirectory}`)
}
