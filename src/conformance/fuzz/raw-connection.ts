import { connect, type Socket } from 'node:net';
import { MessageFramer } from '../../xenstore/framer.ts';
import { MessageType } from '../../xenstore/messages.ts';
import { encodeMessage, type Message } from '../../xenstore/wire.ts';

/** Everything a server sent on one connection, in arrival order, up to and including a reply. */
export interface Exchange {
  /** Messages received before the reply (watch events, normally). */
  before: Message[];
  reply: Message;
}

/**
 * A bare xenstore connection over a unix socket: sends whole messages and hands back received
 * messages in order, without interpreting them. Tests use it to see exactly what a server sends.
 */
export class RawConnection {
  readonly #socket: Socket;
  readonly #framer = new MessageFramer();
  readonly #received: Message[] = [];
  #waiter: (() => void) | undefined;
  #closed: Error | undefined;

  private constructor(socket: Socket) {
    this.#socket = socket;
    socket.on('data', (chunk: Buffer) => {
      try {
        this.#received.push(...this.#framer.push(chunk));
      } catch (error) {
        this.#closed = error as Error;
        socket.destroy();
      }
      this.#wake();
    });
    socket.on('close', () => {
      this.#closed ??= Object.assign(new Error('connection closed by the server'), {
        code: 'ECONNRESET',
      });
      this.#wake();
    });
    socket.on('error', () => {});
  }

  /**
   * Connects to the xenstored socket at `path`. C xenstored accepts from its poll loop with a
   * short backlog, so a burst of connects can meet EAGAIN; those are retried.
   */
  static async open(path: string): Promise<RawConnection> {
    for (;;) {
      try {
        return await RawConnection.#connect(path);
      } catch (error) {
        if ((error as NodeJS.ErrnoException).code !== 'EAGAIN') throw error;
        await new Promise((resolve) => setImmediate(resolve));
      }
    }
  }

  static #connect(path: string): Promise<RawConnection> {
    return new Promise((resolve, reject) => {
      const socket = connect(path);
      socket.once('connect', () => {
        socket.removeListener('error', reject);
        resolve(new RawConnection(socket));
      });
      socket.once('error', reject);
    });
  }

  #wake(): void {
    const waiter = this.#waiter;
    this.#waiter = undefined;
    waiter?.();
  }

  /** True once the server has closed the connection. */
  get closed(): boolean {
    return this.#closed !== undefined;
  }

  /** Sends raw bytes (for malformed or oversized messages). */
  sendBytes(bytes: Uint8Array): void {
    this.#socket.write(bytes);
  }

  send(message: Message): void {
    this.sendBytes(encodeMessage(message));
  }

  /** Waits for the next received message; rejects if the connection closes first. */
  async next(): Promise<Message> {
    while (this.#received.length === 0) {
      if (this.#closed) throw this.#closed;
      await new Promise<void>((resolve) => {
        this.#waiter = resolve;
      });
    }
    return this.#received.shift()!;
  }

  /**
   * Sends `message` and collects everything received until a message that is not a watch event
   * (the reply: the C daemon answers each connection's requests in order).
   */
  async exchange(message: Message): Promise<Exchange> {
    this.send(message);
    return this.#collectUntilReply();
  }

  /** Collects received messages up to and including the first one that is not a watch event. */
  async #collectUntilReply(): Promise<Exchange> {
    const before: Message[] = [];
    for (;;) {
      const message = await this.next();
      if (message.type !== MessageType.WATCH_EVENT) return { before, reply: message };
      before.push(message);
    }
  }

  /** Waits until the server closes the connection (after a fatal protocol error). */
  async waitClosed(): Promise<void> {
    while (!this.#closed) {
      await new Promise<void>((resolve) => {
        this.#waiter = resolve;
      });
    }
  }

  close(): void {
    this.#socket.destroy();
  }
}
