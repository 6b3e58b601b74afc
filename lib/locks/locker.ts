/**
 * Serialises requests on one upload. The interface is what a distributed locker (Redis, PostgreSQL, files
 * shared by several processes) implements.
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
  /** Gives the lock up. Never throws for a lock that was already lost. */
  release(): Promise<void> | void
  /**
   * Aborted when the lock is lost while held (its lease ran out, another holder took it, the locker's backend
   * went away): the holder must stop writing at once. A locker whose locks cannot be lost may leave it out.
   */
  readonly signal?: AbortSignal
  /**
   * A fencing token: larger for every grant of the same id. A store that keeps it with the upload's state can
   * refuse a write carrying an older token (a holder paused past its lease). Optional.
   */
  readonly fence?: number
}

export interface Locker {
  /** Resolves once the caller holds the lock for `id`; rejects with TusError('UPLOAD_LOCKED') on timeout. */
  lock(id: string, options: LockOptions): Promise<Lock>
  /** Resolves when the locker's backend answers (readiness checks); rejects otherwise. Optional. */
  ready?(): Promise<void>
  /** Closes connections and timers the locker holds. Optional. */
  close?(): Promise<void> | void
}
