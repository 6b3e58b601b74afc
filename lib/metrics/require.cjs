'use strict'
/**
 * `require` for optional dependencies, so that they load synchronously (tus() is synchronous) from both builds.
 * This one file is CommonJS in either build (tsc copies it as require.cjs next to the ES modules and the
 * CommonJS modules alike), so its own `require` exists in both and resolves from where the package is
 * installed. No `import.meta.url` (which the CommonJS build cannot compile), no `__filename` (which an ES
 * module lacks), no dependence on process.cwd(). Plain JavaScript, so that Vitest runs it as Node does.
 *
 * @param {string} name
 * @returns {unknown}
 */
function requireOptional(name) {
  return require(name)
}
module.exports = { requireOptional }
