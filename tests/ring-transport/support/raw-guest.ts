import type { EventChannel } from '../../../src/evtchn/index.ts';
import { XenstoreOffset, XenstoreRing } from '../../../src/ring/xenstore.ts';
import { MessageFramer } from '../../../src/xenstore/framer.ts';
import { MessageType } from '../../../src/xenstore/messages.ts';
import type { Message } from '../../../src/xenstore/wire.ts';

/** What one request made the server put in the page. */
export interface RawExchange {
  /** Every byte of the response ring up to the end of the reply, events included. */
  readonly response: Buffer;
  /** The messages those bytes hold. */
  readonly messages: Message[];
  /** Notifications that woke the guest meanwhile (the server's notify policy shows here). */
  readonly kicks: number;
  /** The page's index and state words afterwards: req cons/prod, rsp cons/prod, features, connection, error. */
  readonly words: number[];
}

/**
 * A guest kernel driving its xenstore page by hand, one request at a time: it writes the request
 * bytes (waiting for room when the ring is full), then reads the response ring until the reply
 * with the request's id is complete. It only ever waits for the event channel, never polls, so a
 * server that forgot a notification hangs it.
 */
export class RawRingGuest {
  readonly #ring: XenstoreRing;
  readonly #words: Uint32Array;
  readonly #events: AsyncIterator<number>;
  readonly #eventChannel: EventChannel;
  readonly #port: number;

  constructor(page: Uint8Array, eventChannel: EventChannel, port: number) {
    this.#ring = new XenstoreRing('guest', page.buffer, {
      byteOffset: page.byteOffset,
      notify: () => eventChannel.notify(port),
    });
    this.#words = new Uint32Array(page.buffer, page.byteOffset + XenstoreOffset.reqCons, 7);
    this.#events = eventChannel.pending();
    this.#eventChannel = eventChannel;
    this.#port = port;
  }

  /**
   * Sends `request` and reads until its reply is whole and, after it, `trailingEvents` watch
   * events (a WATCH's first event follows its acknowledgement, and a server may write the two
   * apart: reading only up to the reply would make where one step ends depend on timing).
   */
  async exchange(request: Uint8Array, reqId: number, trailingEvents = 0): Promise<RawExchange> {
    let kicks = 0;
    const wait = async () => {
      for (;;) {
        const { value, done } = await this.#events.next();
        if (done) throw new Error('event channel closed');
        if (value !== this.#port) continue;
        this.#eventChannel.unmask(value);
        kicks++;
        return;
      }
    };
    for (let sent = 0; sent < request.length; ) {
      const n = this.#ring.write(request.subarray(sent));
      sent += n;
      if (sent < request.length) await wait();
    }
    const chunks: Buffer[] = [];
    const framer = new MessageFramer();
    const messages: Message[] = [];
    for (;;) {
      const available = this.#ring.readable();
      if (available > 0) {
        const chunk = Buffer.alloc(available);
        this.#ring.read(chunk);
        chunks.push(chunk);
        messages.push(...framer.push(Buffer.from(chunk)));
        const reply = messages.findIndex(
          (m) => m.reqId === reqId && m.type !== MessageType.WATCH_EVENT,
        );
        const events = messages.slice(reply + 1).filter((m) => m.type === MessageType.WATCH_EVENT);
        if (reply >= 0 && events.length >= trailingEvents && framer.buffered === 0) break;
        continue;
      }
      await wait();
    }
    return { response: Buffer.concat(chunks), messages, kicks, words: [...this.#words] };
  }

  close(): void {
    void this.#events.return?.();
  }
}
