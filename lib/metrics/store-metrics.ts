/**
 * Counts failing store calls by method (tus_store_errors_total{operation}). The wrapper is a Proxy, so the
 * store keeps its capabilities and properties; every method is called on the store itself (private fields
 * keep working). A TusError (NOT_FOUND, ID_TAKEN...) is an answer, not a failure.
 */
import { TusError } from '../errors.js'
import type { DataStore } from '../stores/data-store.js'
import type { PromCounter } from './load-prom-client.js'

/** The label values: DataStore's methods, a fixed set. */
const OPERATIONS = new Set([
  'create', 'get', 'write', 'commit', 'discard', 'finish', 'update', 'remove', 'read', 'concatenate', 'link', 'linked', 'idle',
  'list',
])
/** The methods that return an async iterable rather than a promise. */
const ITERATING = new Set(['idle', 'list'])

export function countStoreErrors(store: DataStore, errors: PromCounter): DataStore {
  const failed = (operation: string, err: unknown): never => {
    if (!(err instanceof TusError)) errors.inc({ operation })
    throw err
  }
  const wrappers = new Map<string | symbol, { original: Function; wrapper: Function }>()
  const wrap = (operation: string, original: Function): Function => {
    if (ITERATING.has(operation)) {
      return (...args: unknown[]) => {
        try {
          return countIteration(original.apply(store, args), (err) => failed(operation, err))
        } catch (err) {
          return failed(operation, err)
        }
      }
    }
    return (...args: unknown[]) => {
      try {
        const result = original.apply(store, args)
        return result instanceof Promise ? result.catch((err) => failed(operation, err)) : result
      } catch (err) {
        return failed(operation, err)
      }
    }
  }
  return new Proxy(store, {
    get(target, property) {
      const value = Reflect.get(target, property, target)
      if (typeof value !== 'function') return value
      const entry = wrappers.get(property)
      if (entry && entry.original === value) return entry.wrapper
      // A method replaced on the store after tus() (tests do) gets a new wrapper. Other methods are bound to
      // the store, as they would be called on it.
      const wrapper = typeof property === 'string' && OPERATIONS.has(property) ? wrap(property, value) : value.bind(target)
      wrappers.set(property, { original: value, wrapper })
      return wrapper
    },
  })
}

async function* countIteration<T>(iterable: AsyncIterable<T>, failed: (err: unknown) => never): AsyncIterable<T> {
  try {
    yield* iterable
  } catch (err) {
    failed(err)
  }
}
