/** tus-js-client driven as a promise. */
import { Upload, type UploadOptions } from 'tus-js-client'

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
