/**
 * What Content-Type and Content-Disposition a download gets. The client chose `filetype`, so it is trusted only
 * for types that cannot run script in the server's origin; everything else is served as a download.
 */
const INLINE_SAFE = new Set([
  'image/png', 'image/jpeg', 'image/gif', 'image/webp', 'image/avif', 'image/bmp',
  'audio/mpeg', 'audio/ogg', 'audio/wav', 'audio/webm', 'audio/aac', 'audio/flac',
  'video/mp4', 'video/webm', 'video/ogg', 'video/quicktime',
  'text/plain', 'application/pdf',
])
/** Safe to label (no script runs when downloaded), though not shown inline. */
const LABEL_SAFE = new Set([
  'application/zip', 'application/gzip', 'application/x-tar', 'application/json', 'text/csv',
  'application/msword', 'application/vnd.openxmlformats-officedocument.wordprocessingml.document',
  'application/vnd.ms-excel', 'application/vnd.openxmlformats-officedocument.spreadsheetml.sheet',
])

export interface DownloadHeaders {
  contentType: string
  disposition: string
}

/** RFC 6266 filename*, with an ASCII fallback stripped of anything that could break the header. */
function dispositionFor(kind: 'inline' | 'attachment', filename: string | undefined): string {
  if (!filename) return kind
  const ascii = filename.replace(/[^\x20-\x7e]|["\\]/g, '_')
  return `${kind}; filename="${ascii}"; filename*=UTF-8''${encodeURIComponent(filename)}`
}

export function downloadHeaders(metadata: Record<string, string>): DownloadHeaders {
  const type = (metadata.filetype ?? metadata.type ?? '').trim().toLowerCase()
  const filename = metadata.filename ?? metadata.name
  if (INLINE_SAFE.has(type)) {
    return { contentType: type === 'text/plain' ? 'text/plain; charset=utf-8' : type, disposition: dispositionFor('inline', filename) }
  }
  return {
    contentType: LABEL_SAFE.has(type) ? type : 'application/octet-stream',
    disposition: dispositionFor('attachment', filename),
  }
}
