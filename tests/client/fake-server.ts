import { mkdtemp, rm } from 'node:fs/promises';
import { createServer, type Server, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { MessageFramer } from '../../src/xenstore/framer.ts';
import { MessageType, type MessageTypeName } from '../../src/xenstore/messages.ts';
import { joinStrings } from '../../src/xenstore/payload.ts';
import { encodeMessage, type Message } from '../../src/xenstore/wire.ts';

/** A queue whose `next()` waits for the next item. */
class Inbox<T> {
  readonly #items: T[] = [];
  readonly #waiters: ((item: T) => void)[] = [];

  push(item: T): void {
    const waiter = this.#waiters.shift();
    if (waiter) waiter(item);
    else this.#items.push(item);
  }

  next(): Promise<T> {
    const item = this.#items.shift();
    if (item !== undefined) return Promise.resolve(item);
    return new Promise((resolve) => this.#waiters.push(resolve));
  }
}

/** One client connection as the scripted server sees it. */
export class FakeConnection {
  readonly #socket: Socket;
  readonly #requests = new Inbox<Message>();
  readonly closed: Promise<void>;

  constructor(socket: Socket) {
    this.#socket = socket;
    const framer = new MessageFramer();
    socket.on('data', (chunk: Buffer) => {
      for (const message of framer.push(chunk)) this.#requests.push(message);
    });
    this.closed = new Promise((resolve) => socket.on('close', () => resolve()));
  }

  /** The next request the client sent. */
  receive(): Promise<Message> {
    return this.#requests.next();
  }

  /** The next `count` requests. */
  async receiveMany(count: number): Promise<Message[]> {
    const out: Message[] = [];
    for (let i = 0; i < count; i++) out.push(await this.receive());
    return out;
  }

  /** Answers `request` with its own type and `payload` (default `OK`). */
  reply(request: Message, payload: string | Uint8Array = 'OK\0'): void {
    this.send({ ...request, payload: bytes(payload) });
  }

  /** Answers `request` with an ERROR naming `code`. */
  fail(request: Message, code: string): void {
    this.send({ ...request, type: MessageType.ERROR, payload: joinStrings([code]) });
  }

  /** Sends a message of any type and ids. */
  send(message: Message): void {
    this.sendRaw(encodeMessage(message));
  }

  /** Fires a watch. */
  fire(path: string, token: string): void {
    this.send({
      type: MessageType.WATCH_EVENT,
      reqId: 0,
      txId: 0,
      payload: joinStrings([path, token]),
    });
  }

  sendRaw(data: Uint8Array): void {
    this.#socket.write(data);
  }

  /** Drops the connection at once. */
  cut(): void {
    this.#socket.destroy();
  }
}

/** A xenstore "server" on a unix socket that does exactly what the test script says. */
export class FakeServer {
  readonly path: string;
  readonly #dir: string;
  readonly #server: Server;
  readonly #connections = new Inbox<FakeConnection>();
  readonly #sockets = new Set<Socket>();

  private constructor(dir: string, server: Server) {
    this.#dir = dir;
    this.path = join(dir, 'socket');
    this.#server = server;
    server.on('connection', (socket) => {
      this.#sockets.add(socket);
      this.#connections.push(new FakeConnection(socket));
    });
  }

  static async start(): Promise<FakeServer> {
    const dir = await mkdtemp(join(tmpdir(), 'xenwire-fake-'));
    const server = new FakeServer(dir, createServer());
    await new Promise<void>((resolve) => server.#server.listen(server.path, resolve));
    return server;
  }

  /** The next connection a client opens. */
  accept(): Promise<FakeConnection> {
    return this.#connections.next();
  }

  async stop(): Promise<void> {
    for (const socket of this.#sockets) socket.destroy();
    await new Promise((resolve) => this.#server.close(resolve));
    await rm(this.#dir, { recursive: true, force: true });
  }
}

/** The op name of a request message. */
export function opOf(message: Message): MessageTypeName | number {
  const entry = Object.entries(MessageType).find(([, n]) => n === message.type);
  return (entry?.[0] as MessageTypeName | undefined) ?? message.type;
}

function bytes(payload: string | Uint8Array): Uint8Array {
  return typeof payload === 'string' ? Buffer.from(payload, 'latin1') : payload;
}
