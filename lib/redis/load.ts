/**
 * Loads the node-redis client, an optional peer dependency: only `tus-middleware/redis` needs it, so the core
 * package keeps `debug` as its one runtime dependency.
 */

/** What RedisLocker uses of the `redis` module. */
export interface RedisModule {
  createClient(options?: Record<string, unknown>): unknown
}

export const MISSING_REDIS = "RedisLocker needs the 'redis' package: npm install redis"

const NOT_FOUND = new Set(['ERR_MODULE_NOT_FOUND', 'MODULE_NOT_FOUND'])

/**
 * Imports `specifier` (the `redis` package; another name only in tests). A missing package becomes an Error that
 * says what to install; any other failure is passed on as it is.
 */
export async function loadRedis(specifier = 'redis'): Promise<RedisModule> {
  let mod: unknown
  try {
    mod = await import(specifier)
  } catch (err) {
    const code = (err as { code?: unknown })?.code
    if (typeof code === 'string' && NOT_FOUND.has(code) && String((err as Error).message).includes(specifier)) {
      throw new Error(MISSING_REDIS, { cause: err })
    }
    throw err
  }
  const found = mod as Partial<RedisModule> & { default?: Partial<RedisModule> }
  const createClient = found.createClient ?? found.default?.createClient
  if (typeof createClient !== 'function') {
    throw new Error(`RedisLocker: the '${specifier}' package has no createClient(); install node-redis 4 or newer: npm install redis`)
  }
  return { createClient }
}
