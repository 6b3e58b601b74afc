// The browser side of the example: an Uppy Dashboard uploading over tus to the middleware, and the list of
// finished uploads the server recorded. Bundled by ../build.mjs (no CDN).
import Uppy from '@uppy/core'
import Dashboard from '@uppy/dashboard'
import Tus from '@uppy/tus'
import '@uppy/core/css/style.min.css'
import '@uppy/dashboard/css/style.min.css'

// Demo credentials of the example app (examples/express/app.js): a real app would use its session.
const token = document.querySelector('meta[name="demo-token"]').content
const auth = { Authorization: `Bearer ${token}` }

const uppy = new Uppy({ id: 'uploads', autoProceed: false, debug: false })
  .use(Dashboard, {
    inline: true,
    target: '#uploader',
    height: 380,
    width: '100%',
    showProgressDetails: true,
    proudlyDisplayPoweredByUppy: false,
  })
  .use(Tus, {
    endpoint: new URL('files/', document.baseURI).href.replace(/\/$/, ''),
    headers: auth,
    // Retried after a dropped connection: tus asks the server for its offset and sends only the rest.
    retryDelays: [0, 500, 1000, 2000, 4000],
  })

const list = document.querySelector('#finished')
const status = document.querySelector('#status')

const formatSize = (bytes) => (bytes >= 1024 * 1024 ? `${(bytes / 1024 / 1024).toFixed(1)} MB` : `${Math.ceil(bytes / 1024)} KB`)

async function showFinished() {
  const res = await fetch('api/uploads', { headers: auth })
  if (!res.ok) {
    status.textContent = `Could not load finished uploads (${res.status})`
    return
  }
  const entries = await res.json()
  list.replaceChildren(
    ...entries.map((entry) => {
      const item = document.createElement('li')
      item.dataset.id = entry.id
      const name = document.createElement('strong')
      name.textContent = entry.filename ?? entry.id
      const details = document.createElement('span')
      details.textContent = ` ${formatSize(entry.size)} · ${new Date(entry.completedAt).toLocaleTimeString()}`
      item.append(name, details)
      return item
    }),
  )
  list.dataset.count = String(entries.length)
  if (entries.length === 0) list.innerHTML = '<li class="empty">Nothing uploaded yet.</li>'
}

uppy.on('upload-error', (file, error) => {
  status.textContent = `${file?.name ?? 'upload'}: ${error.message}`
})
uppy.on('complete', (result) => {
  status.textContent = `${result.successful.length} finished, ${result.failed.length} failed`
  showFinished()
})

showFinished()
window.uppy = uppy
