import { createConnection, type Socket } from 'node:net';
import {
  decodeWatchEvent,
  encodeMessage,
  type Message,
  MessageFramer,
  MessageType,
  type WatchEvent,
  XenstoreError,
} from '../xenstore/index.ts';

interface Pending {
  resolve(reply: Message): void;
  reject(error: Error): void;
}

/**
 * A connection to a xenstored's socket at the level of messages: each message is sent exactly
 * as given (its `req_id` included) and answered by the reply carrying that `req_id`; watch events
 * are kept for {@link takeWatchEvents}. `replay` works at this level, below the client, because
 * it must send recorded messages unchanged and see replies and events as they come.
 */
export class WireSession {
  readonly #socket: Socket;
  readonly #pending = new Map<number, Pending>();
  #events: WatchEvent[] = [];
  #closed: Error | undefined;

  private constructor(socket: Socket) {
    this.#socket = socket;
    const framer = new MessageFramer();
    socket.on('data', (chunk: Buffer) => {
      try {
        for (const message of framer.push(chunk)) this.#receive(message);
      } catch (error) {
        socket.destroy(error as Error);
      }
    });
    socket.on('error', () => {});
    socket.on('close', () => this.#shutdown(new XenstoreError('ECONNRESET', 'connection closed')));
  }

  /** Connects; rejects with the system error (its `code`) when it cannot. */
  static connect(path: string): Promise<WireSession> {
    return new Promise((resolve, reject) => {
      const socket = createConnection(path);
      socket.once('error', reject);
      socket.once('connect', () => {
        socket.off('error', reject);
        resolve(new WireSession(socket));
      });
    });
  }

  /** Sends `message` as it is and resolves with the reply carrying its `req_id`. */
  exchange(message: Message): Promise<Message> {
    if (this.#closed) return Promise.reject(this.#closed);
    return new Promise((resolve, reject) => {
      this.#pending.set(message.reqId, { resolve, reject });
      this.#socket.write(encodeMessage(message));
    });
  }

  /** The watch events received since the last call, in order. */
  takeWatchEvents(): WatchEvent[] {
    const events = this.#events;
    this.#events = [];
    return events;
  }

  close(): void {
    this.#socket.destroy();
    this.#shutdown(new XenstoreError('ECONNRESET', 'connection closed'));
  }

  #receive(message: Message): void {
    if (message.type === MessageType.WATCH_EVENT) {
      this.#events.push(decodeWatchEvent(message.payload));
      return;
    }
    const pending = this.#pending.get(message.reqId);
    this.#pending.delete(message.reqId);
    pending?.resolve(message);
  }

  #shutdown(reason: Error): void {
    if (this.#closed) return;
    this.#closed = reason;
    for (const pending of this.#pending.values()) pending.reject(reason);
    this.#pending.clear();
  }
}
