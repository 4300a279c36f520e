import { createServer, connect as netConnect, type Server, type Socket } from 'node:net';
import { MessageFramer } from '../../src/xenstore/framer.ts';
import { encodeMessage } from '../../src/xenstore/wire.ts';

/** One framed message seen by the proxy, as hex, with the side that sent it. */
export interface RecordedMessage {
  from: 'client' | 'server';
  hex: string;
}

/**
 * A unix-socket proxy in front of a xenstored socket that records every message of every
 * connection, framed, in the order the proxy saw them. Point `XENSTORED_PATH` of any client
 * (libxenstore tools, pyxs) at `path` to capture its traffic.
 */
export class RecordingProxy {
  /** One transcript per accepted connection, in accept order. */
  readonly transcripts: RecordedMessage[][] = [];
  readonly #server: Server;
  readonly #open = new Set<Socket>();
  readonly #listeners: (() => void)[] = [];

  private constructor(server: Server) {
    this.#server = server;
  }

  static listen(path: string, upstreamPath: string): Promise<RecordingProxy> {
    const server = createServer();
    const proxy = new RecordingProxy(server);
    server.on('connection', (client) => proxy.#relay(client, upstreamPath));
    return new Promise((resolve, reject) => {
      server.once('error', reject);
      server.listen(path, () => resolve(proxy));
    });
  }

  #relay(client: Socket, upstreamPath: string): void {
    const transcript: RecordedMessage[] = [];
    this.transcripts.push(transcript);
    this.#notify();
    const upstream = netConnect(upstreamPath);
    const record = (from: RecordedMessage['from'], framer: MessageFramer, target: Socket) => {
      return (chunk: Buffer) => {
        for (const message of framer.push(chunk)) {
          transcript.push({ from, hex: encodeMessage(message).toString('hex') });
        }
        this.#notify();
        target.write(chunk);
      };
    };
    client.on('data', record('client', new MessageFramer(), upstream));
    upstream.on('data', record('server', new MessageFramer(), client));
    for (const [a, b] of [
      [client, upstream],
      [upstream, client],
    ] as const) {
      this.#open.add(a);
      a.on('close', () => {
        this.#open.delete(a);
        b.end();
        this.#notify();
      });
      a.on('error', () => b.destroy());
    }
  }

  /** Resolves once no relayed connection is open any more. */
  async idle(): Promise<void> {
    while (this.#open.size > 0) await this.#changed();
  }

  /** Resolves once connection number `index` (in accept order) has seen `count` server messages. */
  async serverSent(index: number, count: number): Promise<void> {
    const sent = () => this.transcripts[index]?.filter((m) => m.from === 'server').length ?? 0;
    while (sent() < count) await this.#changed();
  }

  #changed(): Promise<void> {
    return new Promise((resolve) => this.#listeners.push(resolve));
  }

  #notify(): void {
    for (const listener of this.#listeners.splice(0)) listener();
  }

  async close(): Promise<void> {
    for (const socket of this.#open) socket.destroy();
    await new Promise<void>((resolve) => this.#server.close(() => resolve()));
  }
}
