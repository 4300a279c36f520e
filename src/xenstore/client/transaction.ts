import { setTimeout as sleep } from 'node:timers/promises';
import { XenstoreError } from '../errors.ts';
import type { ReplyValue } from '../replies.ts';
import type { Request } from '../requests.ts';
import { NodeOperations, type RequestOptions } from './node-operations.ts';

/** How the client carries a transaction's requests. */
export interface TransactionCarrier {
  /** Sends `request` with the transaction's id in the header. */
  send<R extends Request>(
    request: R,
    txId: number,
    options: RequestOptions | undefined,
  ): Promise<ReplyValue<R['op']>>;
  /** The transaction is over, whatever the outcome. */
  ended(transaction: Transaction): void;
}

/**
 * An open transaction: the client's node operations, seen and applied atomically at commit.
 * Obtain one from `client.transactionStart()`, or better let `client.transaction()` run, retry
 * and end it. Held with `await using`, it is aborted on leaving the block unless committed:
 *
 * ```ts
 * await using tx = await xs.transactionStart();
 * await tx.write('/vm/x/state', 'ready');
 * await tx.commit(); // without this line, or when a call above throws, it is aborted
 * ```
 * @category Client
 */
export class Transaction extends NodeOperations implements AsyncDisposable {
  /** The server's transaction id (`tx_id` in each request header). */
  readonly id: number;
  readonly #carrier: TransactionCarrier;
  /**
   * Why it is over: the error that lost it, or `'ended'` by commit or abort, whose error is made
   * only when a call comes too late (capturing a stack on every commit would cost a round trip's
   * worth of CPU).
   */
  #over: XenstoreError | 'ended' | undefined;

  /** @internal Created by `XenstoreClient.transactionStart`. */
  constructor(id: number, carrier: TransactionCarrier) {
    super();
    this.id = id;
    this.#carrier = carrier;
  }

  /** False once committed, aborted or lost. */
  get active(): boolean {
    return this.#over === undefined;
  }

  protected exchange<R extends Request>(
    request: R,
    options: RequestOptions | undefined,
  ): Promise<ReplyValue<R['op']>> {
    if (this.#over === 'ended') {
      return Promise.reject(
        new XenstoreError('EINVAL', `transaction ${this.id} has ended`, 'TRANSACTION_END'),
      );
    }
    if (this.#over) return Promise.reject(this.#over);
    return this.#carrier.send(request, this.id, options);
  }

  /** Applies the transaction; `EAGAIN` means another change got in first: run it again. */
  commit(options?: RequestOptions): Promise<void> {
    return this.#end(true, options);
  }

  /** Discards the transaction. */
  abort(options?: RequestOptions): Promise<void> {
    return this.#end(false, options);
  }

  /** Aborts the transaction unless it is already over (`await using`). */
  async [Symbol.asyncDispose](): Promise<void> {
    if (this.active) await this.abort();
  }

  /** @internal The server no longer knows this transaction (connection lost, watches reset). */
  lose(reason: XenstoreError): void {
    this.#finish(reason);
  }

  #finish(over: XenstoreError | 'ended'): void {
    if (this.#over) return;
    this.#over = over;
    this.#carrier.ended(this);
  }

  async #end(commit: boolean, options: RequestOptions | undefined): Promise<void> {
    const pending = this.exchange({ op: 'TRANSACTION_END', commit }, options);
    // The server forgets the transaction whatever it answers, so it is over from here on.
    this.#finish('ended');
    await pending;
  }
}

/**
 * Retry policy of `client.transaction()`.
 * @category Client
 */
export interface TransactionOptions extends RequestOptions {
  /** Attempts before the last `EAGAIN` is thrown; default 32. */
  readonly maxAttempts?: number;
  /** Back-off ceiling in ms, before jitter; default 100. Attempt n waits up to 2^n ms, capped. */
  readonly maxBackoff?: number;
}

const DEFAULT_ATTEMPTS = 32;
const DEFAULT_MAX_BACKOFF = 100;

/**
 * Runs `body` in a fresh transaction and commits. On `EAGAIN` (from the commit or from inside
 * `body`) the transaction is run again after a random wait of up to `min(2^attempt, maxBackoff)`
 * ms ("full jitter", so contending clients spread out); on any other error it is aborted and the
 * error thrown. The result is `body`'s value from the attempt that committed.
 */
export async function runTransaction<T>(
  start: (options: RequestOptions | undefined) => Promise<Transaction>,
  body: (tx: Transaction) => Promise<T>,
  options: TransactionOptions | undefined,
): Promise<T> {
  const maxAttempts = Math.max(1, options?.maxAttempts ?? DEFAULT_ATTEMPTS);
  const maxBackoff = options?.maxBackoff ?? DEFAULT_MAX_BACKOFF;
  for (let attempt = 1; ; attempt++) {
    const tx = await start(options);
    let failure: unknown;
    try {
      const result = await body(tx);
      await tx.commit(options);
      return result;
    } catch (error) {
      failure = error;
    }
    if (tx.active) await tx.abort(options).catch(() => {});
    if (
      !(failure instanceof XenstoreError && failure.code === 'EAGAIN') ||
      attempt >= maxAttempts
    ) {
      throw failure;
    }
    const delay = Math.random() * Math.min(2 ** attempt, maxBackoff);
    try {
      await sleep(delay, undefined, { signal: options?.signal });
    } catch (error) {
      throw new XenstoreError('ABORT_ERR', {
        message: 'transaction aborted',
        op: 'TRANSACTION_START',
        cause: error,
      });
    }
  }
}
