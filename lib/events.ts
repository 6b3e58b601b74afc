/**
 * Lifecycle notifications. They are emitted after the response, and a listener that throws or rejects is
 * reported on 'listenerError' (and through debug) but never reaches the request or the process.
 */
import createDebug from 'debug'
import { EventEmitter } from 'node:events'
import type { Upload } from './upload.js'

const debug = createDebug('tus-middleware')

export interface TusEvents {
  created: [upload: Readonly<Upload>]
  progress: [upload: Readonly<Upload>]
  completed: [upload: Readonly<Upload>]
  terminated: [upload: Readonly<Upload>]
  /** An upload expired and was removed (spec: expiration). */
  expired: [upload: Readonly<Upload>]
  listenerError: [error: unknown, event: string]
}
export type TusEventName = keyof TusEvents

/** The emitter half of the middleware's type. */
export interface TusEmitter {
  on<E extends TusEventName>(event: E, listener: (...args: TusEvents[E]) => unknown): this
  once<E extends TusEventName>(event: E, listener: (...args: TusEvents[E]) => unknown): this
  off<E extends TusEventName>(event: E, listener: (...args: TusEvents[E]) => unknown): this
  addListener<E extends TusEventName>(event: E, listener: (...args: TusEvents[E]) => unknown): this
  removeListener<E extends TusEventName>(event: E, listener: (...args: TusEvents[E]) => unknown): this
  removeAllListeners(event?: TusEventName): this
  listenerCount(event: TusEventName): number
  listeners(event: TusEventName): Function[]
}

const METHODS = ['on', 'once', 'off', 'addListener', 'removeListener', 'removeAllListeners', 'listenerCount', 'listeners'] as const

/** Gives `target` the emitter methods of `emitter`, returning `target` (they return it, for chaining). */
export function mixinEmitter<T extends object>(target: T, emitter: EventEmitter): T & TusEmitter {
  for (const name of METHODS) {
    const method = (emitter[name] as Function).bind(emitter)
    Object.defineProperty(target, name, {
      value: (...args: unknown[]) => {
        const result = method(...args)
        return result === emitter ? target : result
      },
    })
  }
  return target as T & TusEmitter
}

/** Calls each listener on its own, so one failing listener affects neither the others nor the caller. */
export function safeEmit<E extends TusEventName>(emitter: EventEmitter, event: E, ...args: TusEvents[E]): void {
  for (const listener of emitter.rawListeners(event)) {
    try {
      const result = (listener as Function).apply(emitter, args)
      if (result && typeof (result as Promise<unknown>).then === 'function') {
        ;(result as Promise<unknown>).then(undefined, (err) => reportListenerError(emitter, err, event))
      }
    } catch (err) {
      reportListenerError(emitter, err, event)
    }
  }
}

function reportListenerError(emitter: EventEmitter, err: unknown, event: string): void {
  debug('listener for %s failed: %s', event, (err as Error)?.message ?? err)
  if (event === 'listenerError') return
  safeEmit(emitter, 'listenerError', err, event)
}
