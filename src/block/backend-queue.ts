import type { EventChannel } from '../evtchn/index.ts';
import { type BackRing, RingIndexError } from '../ring/index.ts';
import { BlkifStatus, SECTOR_SIZE, SEGMENTS_PER_INDIRECT_PAGE } from './constants.ts';
import type { BlockDisk } from './disk.ts';
import { BlockError } from './errors.ts';
import {
  type BlkifAbi,
  type BlkifResponse,
  type BlkifSegment,
  decodeBlkifRequest,
  decodeSegments,
  encodeBlkifResponse,
} from './layout.ts';
import type { GrantCache, GrantLease } from './persistent-grants.ts';
import {
  type BackendLimits,
  checkRequest,
  checkSegments,
  type DiscardPlan,
  type IoPlan,
  type RequestVerdict,
} from './request-validator.ts';

/** What a backend did, summed over its queues. */
export interface BlkbackStats {
  /** Requests answered `BLKIF_RSP_OKAY`. */
  okay: number;
  /** Requests answered `BLKIF_RSP_ERROR` (refused as malformed, or the disk failed). */
  errors: number;
  /** Requests answered `BLKIF_RSP_EOPNOTSUPP`. */
  notSupported: number;
  /** Reads carried out, direct and indirect. */
  reads: number;
  /** Writes carried out, direct and indirect. */
  writes: number;
  /** Flushes and barriers carried out. */
  flushes: number;
  /** Discards carried out. */
  discards: number;
  /**
   * `BLKIF_OP_INDIRECT` requests whose segment pages were read; those carried out are also
   * counted in {@link reads} or {@link writes}.
   */
  indirect: number;
  /** Bytes copied from the disk into the frontend's pages. */
  bytesRead: number;
  /** Bytes copied from the frontend's pages to the disk. */
  bytesWritten: number;
}

/** A fresh, zeroed {@link BlkbackStats}. */
export function emptyStats(): BlkbackStats {
  return {
    okay: 0,
    errors: 0,
    notSupported: 0,
    reads: 0,
    writes: 0,
    flushes: 0,
    discards: 0,
    indirect: 0,
    bytesRead: 0,
    bytesWritten: 0,
  };
}

/** What a queue is given. */
export interface BackendQueueOptions {
  readonly abi: BlkifAbi;
  readonly ring: BackRing;
  readonly events: EventChannel;
  readonly port: number;
  readonly disk: BlockDisk;
  readonly limits: BackendLimits;
  readonly grants: GrantCache;
  readonly stats: BlkbackStats;
  /** The frontend broke the ring's rules: the device must go. */
  readonly onFatal: (error: BlockError) => void;
}

/**
 * One ring of a block backend: takes requests as the frontend publishes them, has each judged
 * ({@link checkRequest}), carries out the good ones against the disk concurrently, and answers
 * every one, in the order they finish. Only copies of the requests are read, so a frontend
 * rewriting a slot cannot change a request once judged.
 *
 * The ring's indexes are checked as Linux's blkback does: a `req_prod` that claims more requests
 * than the ring holds halts the queue for good (`onFatal`), rather than being trusted.
 */
export class BackendQueue {
  readonly #o: BackendQueueOptions;
  /** Requests being carried out. */
  readonly #inflight = new Set<Promise<void>>();
  /** Set while a barrier runs: later requests wait for it. */
  #fence: Promise<void> | undefined;
  #stopped = false;
  #servicing = false;
  #again = false;
  #pushQueued = false;
  readonly #scratch: Uint8Array;

  constructor(options: BackendQueueOptions) {
    this.#o = options;
    this.#scratch = new Uint8Array(options.ring.size * options.ring.entrySize);
  }

  /** Starts answering: listens to the port and takes what is already waiting. */
  start(): void {
    this.#o.events.on('pending', this.#onPending);
    this.#service();
  }

  /**
   * Stops: no more requests are taken, and responses of requests still being carried out are
   * dropped (the ring is going away). Resolves once they have all finished with their pages.
   */
  async stop(): Promise<void> {
    this.#stopped = true;
    this.#o.events.off('pending', this.#onPending);
    while (this.#inflight.size > 0) await Promise.allSettled([...this.#inflight]);
  }

  /** Requests being carried out. */
  get inflight(): number {
    return this.#inflight.size;
  }

  readonly #onPending = (port: number): void => {
    if (port !== this.#o.port || this.#stopped) return;
    this.#o.events.unmask(port);
    this.#service();
  };

  #service(): void {
    if (this.#servicing) {
      this.#again = true;
      return;
    }
    this.#servicing = true;
    const { ring, abi } = this.#o;
    const scratch = this.#scratch;
    try {
      do {
        this.#again = false;
        do {
          while (!this.#stopped) {
            const n = ring.takeRequests(scratch);
            if (n === 0) break;
            for (let i = 0; i < n; i++) {
              const request = decodeBlkifRequest(abi, scratch.subarray(i * ring.entrySize));
              this.#dispatch(checkRequest(request, this.#o.limits));
            }
          }
        } while (!this.#stopped && ring.finalCheckForRequests());
      } while (this.#again && !this.#stopped);
    } catch (error) {
      if (!(error instanceof RingIndexError)) throw error;
      this.#stopped = true;
      this.#o.events.off('pending', this.#onPending);
      this.#o.onFatal(
        new BlockError('EPROTO', `the frontend's ring indexes are bogus; queue halted`, {
          cause: error,
        }),
      );
    } finally {
      this.#servicing = false;
    }
  }

  #dispatch(verdict: RequestVerdict): void {
    if (verdict.kind === 'refuse') {
      this.#respond(verdict);
      return;
    }
    const run =
      verdict.kind === 'io' && verdict.barrier ? this.#barrier(verdict) : this.#afterFence(verdict);
    // Outcomes are answered on the ring; what escapes is the ring itself failing.
    const work = run.catch((error: unknown) =>
      this.#o.onFatal(new BlockError('EIO', 'answering a request failed', { cause: error })),
    );
    this.#inflight.add(work);
    void work.then(() => this.#inflight.delete(work));
  }

  /** Waits for every request taken before it, then runs; requests after it wait in turn. */
  #barrier(plan: IoPlan): Promise<void> {
    const earlier = [...this.#inflight];
    const fence = (async () => {
      await Promise.allSettled(earlier);
      await this.#carryOut(plan);
    })();
    this.#fence = fence;
    const lift = () => {
      if (this.#fence === fence) this.#fence = undefined;
    };
    fence.then(lift, lift);
    return fence;
  }

  async #afterFence(verdict: IoPlan | DiscardPlan): Promise<void> {
    if (this.#fence) await this.#fence.catch(() => {});
    await this.#carryOut(verdict);
  }

  async #carryOut(verdict: IoPlan | DiscardPlan): Promise<void> {
    let status: number = BlkifStatus.okay;
    try {
      if (verdict.kind === 'discard') {
        await this.#discard(verdict);
      } else {
        const plan = verdict.indirect ? this.#readIndirect(verdict) : verdict;
        if (plan.kind === 'refuse') {
          this.#respond(plan);
          return;
        }
        await this.#io(plan);
      }
    } catch (error) {
      status =
        error instanceof BlockError && error.code === 'EOPNOTSUPP'
          ? BlkifStatus.notSupported
          : BlkifStatus.error;
    }
    this.#respond({ id: verdict.id, op: verdict.op, status });
  }

  /** Reads an indirect request's segments from its pages and judges them. */
  #readIndirect(plan: IoPlan) {
    const { refs, count } = plan.indirect as NonNullable<IoPlan['indirect']>;
    const lease = this.#lease(refs, true);
    let segments: BlkifSegment[] = [];
    try {
      for (const [i, page] of lease.pages.entries()) {
        const n = Math.min(SEGMENTS_PER_INDIRECT_PAGE, count - i * SEGMENTS_PER_INDIRECT_PAGE);
        const decoded = decodeSegments(page, 0, n);
        segments = i === 0 ? decoded : segments.concat(decoded);
      }
    } finally {
      lease.release();
    }
    this.#o.stats.indirect++;
    return checkSegments(plan, segments, this.#o.limits);
  }

  async #io(plan: IoPlan): Promise<void> {
    const { disk, stats } = this.#o;
    if (plan.preflush) {
      stats.flushes++;
      await disk.flush?.();
    }
    if (plan.segments.length === 0) return;
    const { segments } = plan;
    const refs: number[] = new Array(segments.length);
    for (let i = 0; i < segments.length; i++) refs[i] = (segments[i] as BlkifSegment).ref;
    // The disk reads guest memory for a write: such pages need only be mapped read-only.
    const lease = this.#lease(refs, plan.write);
    try {
      // The I/O goes straight to and from the guest's pages; a whole page is passed as it is.
      const buffers: Uint8Array[] = new Array(segments.length);
      let bytes = 0;
      for (let i = 0; i < segments.length; i++) {
        const { firstSect, lastSect } = segments[i] as BlkifSegment;
        const page = lease.pages[i] as Uint8Array;
        const start = firstSect * SECTOR_SIZE;
        const end = (lastSect + 1) * SECTOR_SIZE;
        buffers[i] = start === 0 && end === page.byteLength ? page : page.subarray(start, end);
        bytes += end - start;
      }
      if (plan.write) {
        await disk.write(plan.sector, buffers);
        stats.writes++;
        stats.bytesWritten += bytes;
        if (plan.postflush) await disk.flush?.();
      } else {
        await disk.read(plan.sector, buffers);
        stats.reads++;
        stats.bytesRead += bytes;
      }
    } finally {
      lease.release();
    }
  }

  async #discard(plan: DiscardPlan): Promise<void> {
    this.#o.stats.discards++;
    if (plan.count > 0) await this.#o.disk.discard?.(plan.sector, plan.count);
  }

  /** Maps refs; a ref that cannot be mapped fails the request (answered `BLKIF_RSP_ERROR`). */
  #lease(refs: readonly number[], readOnly: boolean): GrantLease {
    try {
      return this.#o.grants.acquire(refs, readOnly);
    } catch (error) {
      throw new BlockError('EIO', `grant refs ${refs.join(', ')} could not be mapped`, {
        cause: error,
      });
    }
  }

  #respond(response: BlkifResponse): void {
    const { stats, ring } = this.#o;
    if (response.status === BlkifStatus.okay) stats.okay++;
    else if (response.status === BlkifStatus.notSupported) stats.notSupported++;
    else stats.errors++;
    if (this.#stopped) return;
    encodeBlkifResponse(response, ring.nextResponse());
    // Responses finishing together go out with one index store and at most one notification.
    if (this.#pushQueued) return;
    this.#pushQueued = true;
    queueMicrotask(() => {
      this.#pushQueued = false;
      if (this.#stopped) return;
      if (ring.pushResponses()) this.#o.events.notify(this.#o.port);
    });
  }
}
