import { closeSync, openSync, readSync, writeSync } from 'node:fs';
import { MessageFramer } from '../../src/xenstore/framer.ts';
import { encodeMessage, type Message } from '../../src/xenstore/wire.ts';

// struct xenstore_domain_interface (xs_wire.h): two 1024-byte rings, then four u32 indices.
const RING_SIZE = 1024;
const REQ = 0;
const RSP = 1024;
const REQ_CONS = 2048;
const REQ_PROD = 2052;
const RSP_CONS = 2056;
const RSP_PROD = 2060;

/** Wake-ups without progress after which the daemon is taken to have stopped serving the ring. */
const MAX_IDLE_WAKES = 10_000;

/**
 * The guest end of a fake domain's xenstore ring, for the real daemon under the shim: the ring
 * page is a file the daemon maps shared, so reading and writing the file at the right offsets is
 * reading and writing the page. The guest owns the request data, `req_prod` and `rsp_cons`; the
 * daemon the rest, so neither side ever writes what the other writes.
 *
 * Node has no unix datagram sockets to kick the daemon's event channel with; `wake` must make the
 * daemon run its loop some other way (a dom0 request on its socket does: every loop iteration
 * services every ring with work pending).
 */
export class GuestRingConnection {
  readonly #fd: number;
  readonly #wake: () => Promise<void>;
  readonly #framer = new MessageFramer();
  readonly #received: Message[] = [];
  #closed = false;

  constructor(pagePath: string, wake: () => Promise<void>) {
    this.#fd = openSync(pagePath, 'r+');
    this.#wake = wake;
  }

  get closed(): boolean {
    return this.#closed;
  }

  #index(offset: number): number {
    const bytes = Buffer.alloc(4);
    readSync(this.#fd, bytes, 0, 4, offset);
    return bytes.readUInt32LE(0);
  }

  #setIndex(offset: number, value: number): void {
    const bytes = Buffer.alloc(4);
    bytes.writeUInt32LE(value >>> 0, 0);
    writeSync(this.#fd, bytes, 0, 4, offset);
  }

  /** Writes a whole message into the request ring, waking the daemon while the ring is full. */
  async send(message: Message): Promise<void> {
    const bytes = encodeMessage(message);
    let at = 0;
    let idle = 0;
    while (at < bytes.length) {
      const prod = this.#index(REQ_PROD);
      const free = RING_SIZE - ((prod - this.#index(REQ_CONS)) >>> 0);
      const chunk = Math.min(free, bytes.length - at, RING_SIZE - (prod % RING_SIZE));
      if (chunk > 0) {
        writeSync(this.#fd, bytes, at, chunk, REQ + (prod % RING_SIZE));
        this.#setIndex(REQ_PROD, prod + chunk);
        at += chunk;
        idle = 0;
      } else {
        await this.#idleWake(++idle);
      }
    }
    await this.#wake();
  }

  async #idleWake(idle: number): Promise<void> {
    if (idle > MAX_IDLE_WAKES) {
      throw Object.assign(new Error('the daemon stopped serving the ring'), { code: 'ETIMEDOUT' });
    }
    await this.#wake();
  }

  #pull(): void {
    const cons = this.#index(RSP_CONS);
    const available = (this.#index(RSP_PROD) - cons) >>> 0;
    if (available === 0) return;
    const first = Math.min(available, RING_SIZE - (cons % RING_SIZE));
    const bytes = Buffer.alloc(available);
    readSync(this.#fd, bytes, 0, first, RSP + (cons % RING_SIZE));
    if (first < available) readSync(this.#fd, bytes, first, available - first, RSP);
    this.#setIndex(RSP_CONS, cons + available);
    this.#received.push(...this.#framer.push(bytes));
  }

  /** The next message from the daemon. */
  async next(): Promise<Message> {
    for (let idle = 1; ; idle++) {
      if (this.#closed) throw Object.assign(new Error('closed'), { code: 'ECONNRESET' });
      this.#pull();
      const message = this.#received.shift();
      if (message) return message;
      await this.#idleWake(idle);
    }
  }

  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    closeSync(this.#fd);
  }
}
