/**
 * `tus-middleware/redis`: a Locker shared through Redis, for several processes or machines serving the same
 * uploads. Needs the `redis` package (node-redis 4 or newer), an optional peer dependency.
 */
export { RedisLocker, type RedisLockerOptions, type RedisClientLike } from './redis-locker.js'
export { loadRedis, MISSING_REDIS, type RedisModule } from './load.js'
