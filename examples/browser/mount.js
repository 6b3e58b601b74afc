// Serves the browser example (an Uppy Dashboard page) from an Express app, building its bundle first.
// The app must serve the tus middleware at ./files and the finished-uploads list at ./api/uploads,
// relative to where the page is mounted (examples/express/app.js does).
import express from 'express'
import { buildBrowserExample } from './build.mjs'

export async function mountBrowserExample(app, path = '/') {
  const directory = await buildBrowserExample()
  app.use(path, express.static(directory, { index: 'index.html' }))
  return app
}
