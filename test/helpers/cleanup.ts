/**
 * Per-test cleanup: what a test starts (servers, directories, middleware timers) is stopped after it, last
 * started first, whether the test passed or not.
 */
import { afterEach } from 'vitest'

/** Registers functions to run after the current test. */
export type Defer = (...fns: Array<() => unknown>) => void

/** Call at the top of a file or describe block; returns `defer` for that scope's tests. */
export function useCleanup(): Defer {
  const pending: Array<() => unknown> = []
  afterEach(async () => {
    while (pending.length > 0) await pending.pop()!()
  })
  return (...fns) => {
    pending.push(...fns)
  }
}
