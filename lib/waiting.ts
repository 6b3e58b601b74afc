/**
 * Which final uploads wait for which partial uploads (spec: concatenation-unfinished), in this process:
 * part id -> ids of the finals to settle when it finishes. Entries go as soon as they are settled or their
 * uploads are gone, so the map holds only unfinished parts of live finals. After a restart it is empty; a
 * final is then settled the next time it is looked at.
 */
import type { Upload } from './upload.js'

export type WaitingMap = Map<string, Set<string>>

export function waitFor(waiting: WaitingMap, partId: string, finalId: string): void {
  let finals = waiting.get(partId)
  if (!finals) waiting.set(partId, (finals = new Set()))
  finals.add(finalId)
}

export function unwait(waiting: WaitingMap, partId: string, finalId: string): void {
  const finals = waiting.get(partId)
  if (!finals) return
  finals.delete(finalId)
  if (finals.size === 0) waiting.delete(partId)
}

/** The finals waiting for a part, taken out of the map. */
export function takeWaiting(waiting: WaitingMap, partId: string): Set<string> | undefined {
  const finals = waiting.get(partId)
  waiting.delete(partId)
  return finals
}

/** Forgets an upload that is gone or settled, as a part and as a final. */
export function forgetWaiting(waiting: WaitingMap, upload: Upload): void {
  waiting.delete(upload.id)
  if (upload.concat?.type === 'final') for (const id of upload.concat.parts) unwait(waiting, id, upload.id)
}
