// Builds dist/esm (ES modules) and dist/cjs (CommonJS) from lib/ with the TypeScript compiler.
import { execFileSync } from 'node:child_process'
import { rmSync, writeFileSync } from 'node:fs'
import { createRequire } from 'node:module'

const tsc = createRequire(import.meta.url).resolve('typescript/bin/tsc')
const run = (...args) => execFileSync(process.execPath, [tsc, ...args], { stdio: 'inherit' })

rmSync('dist', { recursive: true, force: true })
run('-p', 'tsconfig.build.json')
// The testing helpers import vitest, which is ESM-only: they ship in the ESM build alone.
run('-p', 'tsconfig.build.json', '--outDir', 'dist/cjs', '--module', 'commonjs', '--moduleResolution', 'node10')
rmSync('dist/cjs/testing', { recursive: true, force: true })
writeFileSync('dist/cjs/package.json', '{ "type": "commonjs" }\n')
