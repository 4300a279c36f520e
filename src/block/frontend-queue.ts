import type { EventChannel } from '../evtchn/index.ts';
import { type FrontRing, RingIndexError } from '../ring/index.ts';
import { BlockError } from './errors.ts';
import {
  type BlkifAbi,
  type BlkifRequest,
  decodeBlkifResponse,
  encodeBlkifRequest,
} from './layout.ts';

/** What a queue is given. */
export interface FrontendQueueOptions {
  readonly abi: BlkifAbi;
  readonly ring: FrontRing;
  readonly events: EventChannel;
  readonly port: number;
  /** A request unanswered this long fails the device (`ETIMEDOUT`). */
  readonly requestTimeoutMs: number;
  /** The backend broke blkif or stopped answering: the device must go. */
  readonly onFatal: (error: BlockError) => void;
}

interface Pending {
  /** The operation the response must carry. */
  readonly op: number;
  readonly resolve: (status: number) => void;
  readonly reject: (error: Error) => void;
  readonly timer: ReturnType<typeof setTimeout>;
}

/**
 * One ring of a block frontend: puts requests on the ring (waiting for a free slot when it is
 * full), and matches responses to them. The id of a request is its slot-sized tag (0 … ring
 * size − 1), as Linux's blkfront's shadow index: a response naming an id not in flight, or
 * carrying another operation than its request's, or a `rsp_prod` claiming more responses than
 * the ring holds, is the backend breaking blkif, and fails the device rather than being guessed
 * at (as Linux's blkfront does since the 2021 hardening).
 */
export class FrontendQueue {
  readonly #o: FrontendQueueOptions;
  readonly #pending = new Map<number, Pending>();
  readonly #freeIds: number[];
  readonly #slotWaiters: (() => void)[] = [];
  readonly #response: Uint8Array;
  #failure: Error | undefined;
  #pushQueued = false;

  constructor(options: FrontendQueueOptions) {
    this.#o = options;
    this.#response = new Uint8Array(options.ring.entrySize);
    this.#freeIds = Array.from({ length: options.ring.size }, (_, i) => options.ring.size - 1 - i);
  }

  /** Requests in flight. */
  get inflight(): number {
    return this.#pending.size;
  }

  /** Starts listening for responses. */
  start(): void {
    this.#o.events.on('pending', this.#onPending);
  }

  /**
   * Puts a request on the ring once a slot is free; resolves with the response's status.
   * @param build - the request for the given id
   * @param op - the operation the response must carry
   */
  async submit(build: (id: bigint) => BlkifRequest, op: number): Promise<number> {
    while (this.#freeIds.length === 0 || this.#o.ring.full) {
      if (this.#failure) throw this.#failure;
      await new Promise<void>((resolve) => this.#slotWaiters.push(resolve));
    }
    if (this.#failure) throw this.#failure;
    const id = this.#freeIds.pop() as number;
    const { ring } = this.#o;
    encodeBlkifRequest(this.#o.abi, build(BigInt(id)), ring.nextRequest());
    const status = new Promise<number>((resolve, reject) => {
      const timer = setTimeout(() => {
        this.#o.onFatal(
          new BlockError(
            'ETIMEDOUT',
            `no response to request ${id} in ${this.#o.requestTimeoutMs} ms`,
          ),
        );
      }, this.#o.requestTimeoutMs);
      this.#pending.set(id, { op, resolve, reject, timer });
    });
    this.#schedulePush();
    return status;
  }

  /** Fails every request in flight and every later one with `error`; stops listening. */
  fail(error: Error): void {
    if (this.#failure) return;
    this.#failure = error;
    this.#o.events.off('pending', this.#onPending);
    for (const pending of this.#pending.values()) {
      clearTimeout(pending.timer);
      pending.reject(error);
    }
    this.#pending.clear();
    for (const wake of this.#slotWaiters.splice(0)) wake();
  }

  /** Requests made in the same tick are published together, with at most one notification. */
  #schedulePush(): void {
    if (this.#pushQueued) return;
    this.#pushQueued = true;
    queueMicrotask(() => {
      this.#pushQueued = false;
      if (this.#failure) return;
      if (this.#o.ring.pushRequests()) this.#o.events.notify(this.#o.port);
    });
  }

  readonly #onPending = (port: number): void => {
    if (port !== this.#o.port || this.#failure) return;
    this.#o.events.unmask(port);
    try {
      this.#takeResponses();
    } catch (error) {
      let reason: BlockError;
      if (error instanceof BlockError) reason = error;
      else if (error instanceof RingIndexError) {
        reason = new BlockError('EPROTO', `the backend's ring indexes are bogus`, { cause: error });
      } else reason = new BlockError('EPROTO', 'taking responses failed', { cause: error });
      this.#o.onFatal(reason);
    }
  };

  #takeResponses(): void {
    const { ring } = this.#o;
    do {
      while (!this.#failure && ring.takeResponse(this.#response)) {
        const response = decodeBlkifResponse(this.#response);
        const id = response.id < BigInt(ring.size) ? Number(response.id) : -1;
        const pending = this.#pending.get(id);
        if (!pending) {
          throw new BlockError('EPROTO', `a response names id ${response.id}, not in flight`);
        }
        if (response.op !== pending.op) {
          throw new BlockError(
            'EPROTO',
            `the response to request ${id} is for operation ${response.op}, not ${pending.op}`,
          );
        }
        this.#pending.delete(id);
        clearTimeout(pending.timer);
        this.#freeIds.push(id);
        pending.resolve(response.status);
        this.#slotWaiters.shift()?.();
      }
    } while (!this.#failure && ring.finalCheckForResponses());
  }
}
