import type { EventEmitter } from 'node:events';

/**
 * Emits without letting a throwing listener unwind into the caller: the client emits while
 * dispatching a batch of messages, and a listener's exception must not cost the replies after
 * it. The exception is rethrown on its own, so it still surfaces as an uncaught exception.
 */
export function emitDetached(emitter: EventEmitter, event: string, ...args: unknown[]): void {
  try {
    emitter.emit(event, ...args);
  } catch (error) {
    queueMicrotask(() => {
      throw error;
    });
  }
}
