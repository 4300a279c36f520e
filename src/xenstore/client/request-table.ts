import { performance } from 'node:perf_hooks';
import { XenstoreError } from '../errors.ts';
import type { Request, RequestOp } from '../requests.ts';
import type { RequestOptions } from './node-operations.ts';

let capturedResolve: (value: unknown) => void;
let capturedReject: (error: unknown) => void;
/** One shared promise executor, so that creating a request allocates no closure. */
function capture(resolve: (value: unknown) => void, reject: (error: unknown) => void): void {
  capturedResolve = resolve;
  capturedReject = reject;
}

/** A request waiting for its reply. */
export class PendingRequest {
  readonly resolve: (value: unknown) => void;
  readonly reject: (error: unknown) => void;
  readonly promise: Promise<unknown>;
  /** When the table's default timeout runs out (`performance.now()` time), if it applies. */
  deadline = Number.POSITIVE_INFINITY;
  /** A timer of its own, for a request with a timeout other than the default. */
  timer: NodeJS.Timeout | undefined;
  signal: AbortSignal | undefined;
  onAbort: (() => void) | undefined;
  /** Rejected locally (timeout, abort) while the server may still answer. */
  abandoned = false;

  constructor(
    readonly op: RequestOp,
    /** The request's `tx_id`, which its reply must echo. */
    readonly txId: number,
    readonly path: string | undefined,
    /** Sent if the abandoned request turns out to have succeeded after all. */
    readonly undo: Request | undefined,
  ) {
    this.promise = new Promise(capture);
    this.resolve = capturedResolve;
    this.reject = capturedReject;
  }
}

/** The error of a request given up through its `AbortSignal`. */
export function abortError(op: string, path: string | undefined, reason: unknown): XenstoreError {
  return new XenstoreError('ABORT_ERR', `${op} aborted`, op, path, { cause: reason });
}

/** Timed-out or aborted requests remembered so that their late replies are recognised. */
const MAX_ABANDONED = 4096;

/**
 * The requests of one connection that await replies, by `req_id`, with their timeouts and abort
 * signals. A request given up locally (timeout, abort) stays listed as abandoned, so that its
 * late reply is told apart from a reply nobody asked for; at most {@link MAX_ABANDONED} are kept.
 */
export class RequestTable {
  readonly #entries = new Map<number, PendingRequest>();
  readonly #defaultTimeout: number;
  #abandoned = 0;
  #nextId = 1;
  #sweepTimer: NodeJS.Timeout | undefined;

  /** `defaultTimeout` in ms; `0` or `Infinity` for none. */
  constructor(defaultTimeout: number) {
    this.#defaultTimeout = defaultTimeout > 0 ? defaultTimeout : Number.POSITIVE_INFINITY;
  }

  /** Requests still awaited by a caller. */
  get waiting(): number {
    return this.#entries.size - this.#abandoned;
  }

  /** A `req_id` not in use; ids wrap at 2^32 and skip 0. */
  nextId(): number {
    let id = this.#nextId;
    while (this.#entries.has(id)) id = (id + 1) >>> 0 || 1;
    this.#nextId = (id + 1) >>> 0 || 1;
    return id;
  }

  /** Registers a request under `reqId`; its timeout and abort signal count from now. */
  add(
    reqId: number,
    op: RequestOp,
    txId: number,
    path: string | undefined,
    options: RequestOptions | undefined,
    undo?: Request,
  ): PendingRequest {
    const pending = new PendingRequest(op, txId, path, undo);
    this.#entries.set(reqId, pending);
    const timeout = options?.timeout ?? this.#defaultTimeout;
    if (timeout === this.#defaultTimeout) this.#startDeadline(pending);
    else if (timeout > 0 && timeout !== Number.POSITIVE_INFINITY) {
      pending.timer = setTimeout(this.#onTimer, timeout, reqId, timeout);
    }
    const signal = options?.signal;
    if (signal) {
      pending.signal = signal;
      pending.onAbort = () => this.#abandon(reqId, abortError(op, path, signal.reason));
      signal.addEventListener('abort', pending.onAbort, { once: true });
    }
    return pending;
  }

  /** Registers a request whose reply nobody awaits: it will be consumed like a late one. */
  addUnanswered(reqId: number, op: RequestOp, txId: number, path: string | undefined): void {
    const pending = new PendingRequest(op, txId, path, undefined);
    pending.promise.catch(() => {});
    pending.abandoned = true;
    this.#entries.set(reqId, pending);
    this.#countAbandoned();
  }

  /** True while a caller still waits for `reqId`. */
  isAwaited(reqId: number): boolean {
    return this.#entries.get(reqId)?.abandoned === false;
  }

  /** Removes and returns the request a reply answers; check `abandoned` for a late reply. */
  take(reqId: number): PendingRequest | undefined {
    const pending = this.#entries.get(reqId);
    if (pending === undefined) return undefined;
    this.#entries.delete(reqId);
    if (pending.abandoned) {
      this.#abandoned--;
    } else {
      this.#release(pending);
      // Left armed but unreferenced: a timer that kept the process alive for nothing would be a
      // leak, and clearing it only to set it again for the next request would cost a timer per
      // request for a client that waits for each reply. A sweep that finds nothing lapses.
      if (this.waiting === 0) this.#sweepTimer?.unref();
    }
    return pending;
  }

  /** Rejects every awaited request with the error `fail` makes for it, and forgets them all. */
  failAll(fail: (pending: PendingRequest) => XenstoreError): void {
    const entries = [...this.#entries.values()];
    this.#entries.clear();
    this.#abandoned = 0;
    this.#stopSweep();
    for (const pending of entries) {
      if (pending.abandoned) continue;
      this.#release(pending);
      pending.reject(fail(pending));
    }
  }

  /**
   * Requests with the default timeout share one timer: their deadlines grow in the order they
   * were made, which is the order of the map, so the timer only ever waits for the oldest one.
   * That saves a timer per request, which would cost as much as the rest of the request.
   */
  #startDeadline(pending: PendingRequest): void {
    if (this.#defaultTimeout === Number.POSITIVE_INFINITY) return;
    pending.deadline = performance.now() + this.#defaultTimeout;
    // An armed timer fires no later than this deadline, since deadlines only grow.
    if (this.#sweepTimer === undefined) this.#armSweep(this.#defaultTimeout);
    else this.#sweepTimer.ref();
  }

  #armSweep(delay: number): void {
    this.#sweepTimer = setTimeout(this.#sweep, Math.max(1, Math.ceil(delay)));
  }

  #stopSweep(): void {
    clearTimeout(this.#sweepTimer);
    this.#sweepTimer = undefined;
  }

  readonly #sweep = (): void => {
    this.#sweepTimer = undefined;
    const now = performance.now();
    for (const [reqId, pending] of this.#entries) {
      if (pending.abandoned || pending.deadline === Number.POSITIVE_INFINITY) continue;
      if (pending.deadline > now) {
        this.#armSweep(pending.deadline - now);
        return;
      }
      this.#timeOut(reqId, pending, this.#defaultTimeout);
    }
  };

  readonly #onTimer = (reqId: number, timeout: number): void => {
    const pending = this.#entries.get(reqId);
    if (pending !== undefined) this.#timeOut(reqId, pending, timeout);
  };

  #timeOut(reqId: number, pending: PendingRequest, timeout: number): void {
    this.#abandon(
      reqId,
      new XenstoreError('ETIMEDOUT', `no reply within ${timeout} ms`, pending.op, pending.path),
    );
  }

  #abandon(reqId: number, error: XenstoreError): void {
    const pending = this.#entries.get(reqId);
    if (pending === undefined || pending.abandoned) return;
    this.#release(pending);
    pending.abandoned = true;
    pending.reject(error);
    this.#countAbandoned();
  }

  /** Bounds memory against a server that never answers: late replies then count as unknown. */
  #countAbandoned(): void {
    if (++this.#abandoned <= MAX_ABANDONED) return;
    for (const [reqId, pending] of this.#entries) {
      if (pending.abandoned) this.#entries.delete(reqId);
    }
    this.#abandoned = 0;
  }

  #release(pending: PendingRequest): void {
    if (pending.timer !== undefined) clearTimeout(pending.timer);
    if (pending.onAbort !== undefined) {
      pending.signal!.removeEventListener('abort', pending.onAbort);
    }
  }
}
