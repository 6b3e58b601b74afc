/** tus-js-client driven as a promise. */
import { Upload, type PreviousUpload, type UploadOptions, type UrlStorage } from 'tus-js-client'

export type Source = ConstructorParameters<typeof Upload>[0]

/** Starts an upload; resolves with its URL on success. `setup` sees the Upload before it starts. */
export function upload(source: Source, options: UploadOptions, setup?: (u: Upload) => void): Promise<string> {
  return new Promise((resolve, reject) => {
    const u: Upload = new Upload(source, {
      retryDelays: null,
      ...options,
      onSuccess: (payload) => {
        options.onSuccess?.(payload)
        resolve(u.url!)
      },
      onError: (err) => reject(err),
    })
    setup?.(u)
    u.start()
  })
}

/** Starts an upload and aborts it once `chunks` chunks were accepted; resolves with its URL. */
export function uploadThenAbort(data: Buffer, options: Parameters<typeof upload>[1], chunks: number): Promise<string> {
  return new Promise((resolve, reject) => {
    let done = 0
    let current: import('tus-js-client').Upload
    upload(data, {
      ...options,
      onChunkComplete: () => {
        if (++done === chunks) {
          const url = current.url!
          current.abort().then(() => resolve(url), reject)
        }
      },
    }, (u) => (current = u)).then(() => reject(new Error('upload finished before it was aborted')), reject)
  })
}

/** A UrlStorage kept in memory (tus-js-client's Node default stores nothing). */
export function memoryUrlStorage(): UrlStorage {
  const entries = new Map<string, PreviousUpload & { fingerprint: string }>()
  let next = 0
  return {
    findAllUploads: async () => [...entries.values()],
    findUploadsByFingerprint: async (fp) => [...entries.entries()].filter(([, u]) => u.fingerprint === fp).map(([key, u]) => ({ ...u, urlStorageKey: key })),
    removeUpload: async (key) => void entries.delete(key),
    addUpload: async (fp, u) => {
      const key = `upload-${next++}`
      entries.set(key, { ...u, fingerprint: fp })
      return key
    },
  }
}
