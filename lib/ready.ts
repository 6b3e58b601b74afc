/**
 * Readiness (uploads.ready()): resolves when the store and the locker answer, rejects with the first failure.
 * For a readiness probe (e.g. a /healthz route answering 503 while it rejects).
 */
import type { Locker } from './locks/locker.js'
import type { DataStore } from './stores/data-store.js'

/** A valid upload id that no generated id can take (those are 32 hex digits): asking for it reads, never writes. */
const PROBE_ID = 'tus-middleware-readiness-probe'

export async function checkReady(store: DataStore, locker: Locker): Promise<void> {
  // A store may offer its own check (a connection ping); otherwise one cheap lookup of an upload that is not there.
  const own = (store as { ready?: () => Promise<void> }).ready
  const storeReady = typeof own === 'function' ? own.call(store) : store.get(PROBE_ID)
  await Promise.all([storeReady, typeof locker.ready === 'function' ? locker.ready() : undefined])
}
