import { createConnection } from 'node:net';
import {
  decodeReply,
  decodeWatchEvent,
  encodeMessage,
  encodeRequest,
  type Message,
  MessageFramer,
  MessageType,
  type ReplyValue,
  type Request,
  type WatchEvent,
  XenstoreError,
} from '../xenstore/index.ts';

/** Callbacks of a {@link WireLink}. */
export interface WireLinkHandlers {
  onMessage(message: Message): void;
  onClose(reason?: Error): void;
}

/** A message-level connection to a xenstored's socket. */
export interface WireLink {
  send(message: Message): void;
  close(): void;
}

/** Opens a {@link WireLink}; rejects with the system error (its `code`) when it cannot. */
export type WireLinkOpener = (handlers: WireLinkHandlers) => Promise<WireLink>;

/** A xenstored's unix socket. */
export function socketLink(path: string): WireLinkOpener {
  return (handlers) =>
    new Promise((resolve, reject) => {
      const socket = createConnection(path);
      const framer = new MessageFramer();
      let open = false;
      socket.once('connect', () => {
        open = true;
        resolve({
          send: (message) => socket.write(encodeMessage(message)),
          close: () => socket.destroy(),
        });
      });
      socket.on('data', (chunk) => {
        let messages: Message[];
        try {
          messages = framer.push(chunk);
        } catch (err) {
          socket.destroy(err as Error);
          return;
        }
        for (const message of messages) handlers.onMessage(message);
      });
      socket.on('error', (err) => {
        if (!open) reject(err);
      });
      socket.on('close', () => {
        if (open) handlers.onClose();
      });
    });
}

interface Pending {
  resolve(reply: Message): void;
  reject(error: Error): void;
}

/**
 * Messages exactly as given, and the replies carrying their `req_id`; watch events queue up for
 * {@link nextWatchEvent}. `replay` works at this level, below the client, because it must send
 * recorded messages unchanged (their `req_id`s included) and see replies and events as they come.
 */
export class XsSession {
  readonly #link: WireLink;
  readonly #pending = new Map<number, Pending>();
  readonly #events: WatchEvent[] = [];
  #eventWaiter: ((event: WatchEvent | undefined) => void) | undefined;
  #closed: Error | undefined;
  readonly #onClose: (() => void) | undefined;

  private constructor(link: WireLink, onClose?: () => void) {
    this.#link = link;
    this.#onClose = onClose;
  }

  /** Connects; `onClose` runs once the session is closed by either side. */
  static async open(opener: WireLinkOpener, onClose?: () => void): Promise<XsSession> {
    let session: XsSession | undefined;
    const early: Message[] = [];
    const link = await opener({
      onMessage: (message) => (session ? session.#receive(message) : early.push(message)),
      onClose: (reason) => session?.shutdown(reason ?? new XenstoreError('ECONNRESET')),
    });
    session = new XsSession(link, onClose);
    for (const message of early) session.#receive(message);
    return session;
  }

  /** Sends `message` as it is (its `req_id` included) and resolves with the matching reply. */
  exchange(message: Message): Promise<Message> {
    if (this.#closed) return Promise.reject(this.#closed);
    return new Promise((resolve, reject) => {
      this.#pending.set(message.reqId, { resolve, reject });
      this.#link.send(message);
    });
  }

  /** The next watch event, waiting for one; `undefined` once the connection is closed. */
  nextWatchEvent(): Promise<WatchEvent | undefined> {
    const event = this.#events.shift();
    if (event || this.#closed) return Promise.resolve(event);
    return new Promise((resolve) => {
      this.#eventWaiter = resolve;
    });
  }

  /** Watch events received and not yet taken. */
  get queuedWatchEvents(): number {
    return this.#events.length;
  }

  close(): void {
    if (this.#closed) return;
    this.#link.close();
    this.shutdown(new XenstoreError('ECONNRESET', 'connection closed'));
  }

  #receive(message: Message): void {
    if (message.type === MessageType.WATCH_EVENT) {
      const event = decodeWatchEvent(message.payload);
      const waiter = this.#eventWaiter;
      this.#eventWaiter = undefined;
      if (waiter) waiter(event);
      else this.#events.push(event);
      return;
    }
    const pending = this.#pending.get(message.reqId);
    this.#pending.delete(message.reqId);
    pending?.resolve(message);
  }

  /** Fails whatever is pending with `reason`; the link is already closed. */
  private shutdown(reason: Error): void {
    if (this.#closed) return;
    this.#closed = reason;
    for (const pending of this.#pending.values()) pending.reject(reason);
    this.#pending.clear();
    this.#eventWaiter?.(undefined);
    this.#eventWaiter = undefined;
    this.#onClose?.();
  }
}
