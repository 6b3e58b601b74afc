/**
 * Serialises requests on one upload. The interface is what a distributed locker (Redis, PostgreSQL) implements.
 */
export interface LockOptions {
  /** Called on the holder when another request wants the lock: it should stop and release soon. */
  onReleaseRequested: () => void
  /** Milliseconds to wait for the lock before failing with a TusError('UPLOAD_LOCKED'). */
  timeout: number
  /** Gives up waiting when aborted (the waiting client went away). */
  signal?: AbortSignal
}

export interface Lock {
  release(): Promise<void> | void
}

export interface Locker {
  /** Resolves once the caller holds the lock for `id`; rejects with TusError('UPLOAD_LOCKED') on timeout. */
  lock(id: string, options: LockOptions): Promise<Lock>
}
