import { MessageType, messageTypeName } from '../messages.ts';
import { decodeWatchEvent, errorMessage } from '../replies.ts';
import { decodeRequest, requestPath } from '../requests.ts';
import { encodeMessage, type Message } from '../wire.ts';
import { type FaultPlan, type InjectRule, ruleMatches } from './plan.ts';
import { deriveSeed, SeededRandom } from './random.ts';

/**
 * Which way a message went, as the proxy's trace says it.
 * @category Server
 */
export type FaultDirection = 'client-to-server' | 'server-to-client';

/**
 * One fault as applied: what the trace records so that the run can be replayed.
 * @category Server
 */
export interface FaultRecord {
  /**
   * `inject`: answered with `error` instead of forwarded; `drop`: the connection closed instead of
   * forwarding; `reset`: forwarded, its reply torn in half and the connection closed; `delay`,
   * `stall`: held `ms`; `split`: written in `chunks`; `duplicate`: delivered twice; `reorder`:
   * delivered after the next watch event.
   */
  readonly fault:
    | 'inject'
    | 'drop'
    | 'reset'
    | 'delay'
    | 'stall'
    | 'split'
    | 'duplicate'
    | 'reorder';
  /** Which way the message the fault hit was going. */
  readonly dir: FaultDirection;
  /** The message's number on its connection and direction, from 1 (to the client: as delivered). */
  readonly n: number;
  /** Its type name (or number, for a type without one). */
  readonly type: string;
  /** Its `req_id`. */
  readonly reqId: number;
  /** Its `tx_id`. */
  readonly txId: number;
  /** For `delay` and `stall`: how long the message was held, in ms. */
  readonly ms?: number;
  /** For `split`: the sizes of the writes the message went out in, in order. */
  readonly chunks?: readonly number[];
  /** For `inject`: the errno name the client was answered with. */
  readonly error?: string;
  /** The `inject` rule that fired, as written. */
  readonly rule?: string;
  /** For an injected TRANSACTION_END: what went to the server instead (an abort). */
  readonly sent?: 'abort';
  /** A watch event's path. */
  readonly path?: string;
}

/** The two ends a {@link FaultInjector} sits between. */
export interface FaultEnds {
  /** Passes a request on to the server. */
  toServer(message: Message): void;
  /** Hands one message to the client. */
  toClient(message: Message): void;
  /**
   * Writes raw bytes to the client, on byte media: what splitting a message and tearing a reply
   * need. Without it, both are left out.
   */
  toClientBytes?(bytes: Uint8Array): void;
  /** Ends the connection, both sides. */
  close(): void;
  /** Receives every fault as it is applied, in order. */
  record(fault: FaultRecord): void;
}

/** How long a watch event held back for reordering waits for a next event at most. */
const REORDER_WINDOW_MS = 20;

// One random stream per kind of fault: turning one on leaves the choices of the others alone.
const STREAMS = ['disconnect', 'inject', 'delay', 'stall', 'split', 'duplicate', 'reorder'];
type Stream = (typeof STREAMS)[number];

interface Outgoing {
  readonly bytes?: Uint8Array;
  readonly message?: Message;
  readonly at: number;
  readonly chunks?: readonly number[];
  /** Write half of it, then close. */
  readonly torn?: boolean;
}

/**
 * One connection's faults: sits between a client and a server, sees every message both ways and
 * applies `plan`. Every random choice comes from streams seeded by the plan's seed and the
 * connection number, in the order messages arrive, so the same seed and the same messages give
 * the same faults whatever the timing. Delivery to the client keeps message order.
 */
export class FaultInjector {
  readonly #random = new Map<Stream, SeededRandom>();
  #requests = 0;
  #delivered = 0;
  readonly #disconnectAt: number | undefined;
  /** req_ids of aborts sent in place of injected commits: their replies are not the client's. */
  readonly #swallowed = new Set<number>();
  #tornReqId: number | undefined;
  #held: { message: Message; timer: NodeJS.Timeout } | undefined;
  readonly #queue: Outgoing[] = [];
  #lastAt = 0;
  #pumping = false;
  #closed = false;

  constructor(
    readonly plan: FaultPlan,
    /** The connection's number: with the seed, it seeds this connection's streams. */
    readonly conn: number,
    readonly ends: FaultEnds,
  ) {
    for (const [i, name] of STREAMS.entries()) {
      this.#random.set(name, new SeededRandom(deriveSeed(plan.seed, conn, i)));
    }
    const after = plan.disconnect?.after;
    this.#disconnectAt = after && this.#draw('disconnect').between(after.min, after.max);
  }

  #draw(stream: Stream): SeededRandom {
    return this.#random.get(stream)!;
  }

  /** A request from the client. */
  fromClient(message: Message): void {
    if (this.#closed) return;
    const n = ++this.#requests;
    const about = { dir: 'client-to-server' as const, n, ...ids(message) };
    if (this.#disconnectAt !== undefined && n > this.#disconnectAt) {
      if (this.plan.disconnect?.mode === 'drop') {
        this.ends.record({ fault: 'drop', ...about });
        this.close();
        return;
      }
      if (this.#tornReqId === undefined) {
        this.ends.record({ fault: 'reset', ...about });
        this.#tornReqId = message.reqId;
      }
    }
    const rule = this.#injected(message);
    if (rule) {
      const abort = message.type === MessageType.TRANSACTION_END && message.txId !== 0;
      this.ends.record({
        fault: 'inject',
        ...about,
        error: rule.error,
        rule: rule.text,
        ...(abort && { sent: 'abort' as const }),
      });
      // The server must not commit what the client is told failed: it gets an abort instead.
      if (abort) {
        this.#swallowed.add(message.reqId);
        this.ends.toServer({ ...message, payload: Buffer.from('F\0') });
      }
      this.#deliver(errorMessage(message, rule.error));
      return;
    }
    this.ends.toServer(message);
  }

  #injected(message: Message): InjectRule | undefined {
    if (this.plan.inject.length === 0) return undefined;
    const op = messageTypeName(message.type) ?? String(message.type);
    let path: string | undefined;
    try {
      path = requestPath(decodeRequest(message));
    } catch {
      // Malformed: it names no path; only `*` patterns match it.
    }
    const random = this.#draw('inject');
    return this.plan.inject.find((rule) => ruleMatches(rule, op, path) && random.chance(rule.rate));
  }

  /** A reply or watch event from the server. */
  fromServer(message: Message): void {
    if (this.#closed) return;
    if (message.type !== MessageType.WATCH_EVENT) {
      if (this.#swallowed.delete(message.reqId)) return;
      this.#releaseHeld();
      this.#deliver(message);
      return;
    }
    const held = this.#held;
    if (held) {
      // Reordered: the held event goes after this one.
      this.#held = undefined;
      clearTimeout(held.timer);
      this.#deliver(message);
      this.#deliver(held.message);
      return;
    }
    if (this.#draw('reorder').chance(this.plan.reorderEvents)) {
      this.#record('reorder', message, this.#delivered + 1);
      this.#held = {
        message,
        timer: setTimeout(() => this.#releaseHeld(), REORDER_WINDOW_MS),
      };
      return;
    }
    this.#deliver(message);
    if (this.#draw('duplicate').chance(this.plan.duplicateEvents)) {
      this.#record('duplicate', message, this.#delivered + 1);
      this.#deliver(message);
    }
  }

  #releaseHeld(): void {
    const held = this.#held;
    if (!held) return;
    this.#held = undefined;
    clearTimeout(held.timer);
    this.#deliver(held.message);
  }

  #record(
    fault: FaultRecord['fault'],
    message: Message,
    n: number,
    extra: Partial<FaultRecord> = {},
  ): void {
    const path = message.type === MessageType.WATCH_EVENT ? eventPath(message) : undefined;
    this.ends.record({
      fault,
      dir: 'server-to-client',
      n,
      ...ids(message),
      ...(path !== undefined && { path }),
      ...extra,
    });
  }

  // Draws this message's delay, stall and chunks, then queues it behind everything before it.
  #deliver(message: Message): void {
    const n = ++this.#delivered;
    const isReply = message.type !== MessageType.WATCH_EVENT;
    let ms = 0;
    if (this.plan.delay) {
      const delay = this.#draw('delay').between(this.plan.delay.min, this.plan.delay.max);
      if (delay > 0) this.#record('delay', message, n, { ms: delay });
      ms += delay;
    }
    const stall = this.plan.stall;
    if (stall && isReply && this.#draw('stall').chance(stall.rate)) {
      this.#record('stall', message, n, { ms: stall.ms });
      ms += stall.ms;
    }
    const torn = isReply && message.reqId === this.#tornReqId;
    const bytesOut = this.ends.toClientBytes !== undefined;
    let chunks: number[] | undefined;
    let bytes: Uint8Array | undefined;
    if (bytesOut && (this.plan.split || torn)) {
      bytes = encodeMessage(message);
      if (this.plan.split && !torn) {
        chunks = this.#chunks(bytes.length);
        this.#record('split', message, n, { chunks });
      }
    }
    const at = Math.max(this.#lastAt, performance.now() + ms);
    this.#lastAt = at;
    const item: Outgoing = bytes
      ? { bytes, at, ...(chunks && { chunks }), torn }
      : { message, at, torn };
    if (ms === 0 && !chunks && !torn && this.#queue.length === 0) {
      this.ends.toClient(message);
      return;
    }
    this.#queue.push(item);
    void this.#pump();
  }

  #chunks(length: number): number[] {
    const { min, max } = this.plan.split!;
    const random = this.#draw('split');
    const chunks: number[] = [];
    for (let left = length; left > 0; ) {
      const size = Math.min(left, random.between(min, max));
      chunks.push(size);
      left -= size;
    }
    return chunks;
  }

  async #pump(): Promise<void> {
    if (this.#pumping) return;
    this.#pumping = true;
    try {
      while (this.#queue.length > 0 && !this.#closed) {
        const item = this.#queue[0]!;
        const wait = item.at - performance.now();
        if (wait > 0) await sleep(wait);
        if (this.#closed) return;
        try {
          await this.#write(item);
        } catch {
          // A client end that throws ends its connection, as a throwing `onMessage` does.
          this.close();
          return;
        }
        this.#queue.shift();
      }
    } finally {
      this.#pumping = false;
    }
  }

  async #write(item: Outgoing): Promise<void> {
    if (item.torn) {
      if (item.bytes) this.ends.toClientBytes?.(item.bytes.subarray(0, item.bytes.length >> 1));
      this.close();
      return;
    }
    if (!item.bytes) {
      this.ends.toClient(item.message!);
      return;
    }
    if (!item.chunks) {
      this.ends.toClientBytes!(item.bytes);
      return;
    }
    let at = 0;
    for (const [i, size] of item.chunks.entries()) {
      // A pause between chunks, so that each arrives in a read of its own.
      if (i > 0) await sleep(1);
      if (this.#closed) return;
      this.ends.toClientBytes!(item.bytes.subarray(at, at + size));
      at += size;
    }
  }

  /** Stops: nothing more is delivered or forwarded, and the connection is closed. */
  close(): void {
    if (this.#closed) return;
    this.detach();
    this.ends.close();
  }

  /** Stops because the connection ended elsewhere: nothing more is delivered or forwarded. */
  detach(): void {
    this.#closed = true;
    if (this.#held) clearTimeout(this.#held.timer);
    this.#held = undefined;
    this.#queue.length = 0;
  }
}

function ids(message: Message) {
  return {
    type: messageTypeName(message.type) ?? String(message.type),
    reqId: message.reqId,
    txId: message.txId,
  };
}

function eventPath(message: Message): string | undefined {
  try {
    return decodeWatchEvent(message.payload).path;
  } catch {
    // A malformed event (from a server under test) is recorded without its path.
    return undefined;
  }
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}
