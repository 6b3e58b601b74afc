/**
 * Times lock waits (tus_lock_wait_seconds: from lock() to the grant) and counts UPLOAD_LOCKED refusals
 * (tus_lock_timeouts_total). A Proxy, so the locker's other members (ready, close, its own) stay as they are,
 * called on the locker itself.
 */
import { performance } from 'node:perf_hooks'
import type { Locker } from '../locks/locker.js'
import type { PromCounter, PromHistogram } from './load-prom-client.js'

export function countLockWaits(locker: Locker, waits: PromHistogram, timeouts: PromCounter): Locker {
  const lock: Locker['lock'] = (id, options) => {
    const start = performance.now()
    return locker.lock(id, options).then(
      (granted) => {
        waits.observe((performance.now() - start) / 1000)
        return granted
      },
      (err) => {
        if ((err as { code?: unknown })?.code === 'UPLOAD_LOCKED') timeouts.inc()
        throw err
      },
    )
  }
  const bound = new Map<string | symbol, { original: Function; wrapper: Function }>()
  return new Proxy(locker, {
    get(target, property) {
      if (property === 'lock') return lock
      const value = Reflect.get(target, property, target)
      if (typeof value !== 'function') return value
      // Called on the locker itself, as without the wrapper.
      const entry = bound.get(property)
      if (entry && entry.original === value) return entry.wrapper
      const wrapper = value.bind(target)
      bound.set(property, { original: value, wrapper })
      return wrapper
    },
  })
}
