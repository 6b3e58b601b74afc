/**
 * The state object of an S3 upload (`<prefix>.tus/info/<id>`): its types, and what is read from it without S3.
 */
import { TusError } from '../errors.js'
import type { Upload } from '../upload.js'

export interface Part {
  /** Part number, 1.. */
  n: number
  size: number
  etag: string
}

export interface Tail {
  key: string
  size: number
}

export interface Stage {
  offset: number
  /** Parts the stage uploaded, numbered after the confirmed ones; the first holds the confirmed tail's bytes. */
  parts: Part[]
  /** The tail the stage leaves (which starts with the confirmed tail's bytes when the stage made no part). */
  tail?: Tail
}

export interface State {
  v: 1
  upload: Omit<Upload, 'offset'>
  partSize: number
  /** The multipart upload, created with the first part. */
  mpu?: string
  parts: Part[]
  tail?: Tail
  stage?: Stage
  fence?: number
  /** Set once `<prefix><id>` holds all the bytes: their count. */
  finished?: number
}

export interface Loaded {
  state: State
  etag?: string
}

/** The offset the state stands for: the unbroken run of parts from 1, then the tail (only after an unbroken run). */
export function offsetOf(state: State): number {
  if (state.finished !== undefined) return state.finished
  let offset = 0
  for (const [i, part] of state.parts.entries()) {
    if (part.n !== i + 1) return offset
    offset += part.size
  }
  return offset + (state.tail?.size ?? 0)
}

/** The upload the state describes, a copy. */
export function viewOf(state: State): Upload {
  return { ...structuredClone(state.upload), offset: offsetOf(state) }
}

export const lockLost = (why: string): TusError => new TusError('LOCK_LOST', `The request lost its hold on the upload (${why}); ask for the offset and retry`)

/** Rejects a writer whose fence is older than the one the state holds. */
export function checkFence(state: State, fence: number | undefined): void {
  if (fence !== undefined && state.fence !== undefined && fence < state.fence) throw lockLost(`fence ${fence} is older than ${state.fence}`)
}
