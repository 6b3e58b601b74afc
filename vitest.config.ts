import { fileURLToPath } from 'node:url'
import { defineConfig } from 'vitest/config'

export default defineConfig({
  resolve: {
    // Tests import the package by name, as users do; it resolves to the TypeScript source.
    alias: [{ find: /^tus-middleware$/, replacement: fileURLToPath(new URL('./lib/index.ts', import.meta.url)) }],
  },
  test: {
    include: ['test/**/*.test.ts'],
    testTimeout: 30_000,
    hookTimeout: 60_000,
    pool: 'forks',
  },
})
