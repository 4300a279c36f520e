import type { EventChannel } from '../evtchn/index.ts';
import { type BackRing, RingIndexError } from '../ring/index.ts';
import { BlkifStatus, SECTOR_SIZE } from './constants.ts';
import type { BlockDisk } from './disk.ts';
import { BlockError } from './errors.ts';
import {
  type BlkifAbi,
  type BlkifResponse,
  type BlkifSegment,
  decodeBlkifRequest,
  encodeBlkifResponse,
} from './layout.ts';
import type { GrantCache, GrantLease } from './persistent-grants.ts';
import {
  type BackendLimits,
  checkIndirectSegments,
  checkRequest,
  type DiscardPlan,
  type IoPlan,
  type Refusal,
  type RequestVerdict,
  type SegmentList,
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
  /**
   * Events from the frontend that found requests to take: with {@link okay}, {@link errors} and
   * {@link notSupported}, the requests taken per wake-up.
   */
  wakeups: number;
  /**
   * Events sent to the frontend: responses are published together when they finish together,
   * and the frontend is notified only when it asked to be (`rsp_event`).
   */
  notifications: number;
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
    wakeups: 0,
    notifications: 0,
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
    this.#service();
    // Unmasked once the requests taken are answered (those done at once): an event the frontend
    // sends meanwhile waits in the port and fires then, and the unmask is not on their way.
    setImmediate(this.#unmask);
  };

  readonly #unmask = (): void => {
    if (this.#stopped) return;
    try {
      this.#o.events.unmask(this.#o.port);
    } catch (error) {
      this.#o.onFatal(new BlockError('EIO', 'the event channel failed', { cause: error }));
    }
  };

  #service(): void {
    if (this.#servicing) {
      this.#again = true;
      return;
    }
    this.#servicing = true;
    const { ring, abi, stats } = this.#o;
    const scratch = this.#scratch;
    let took = false;
    try {
      do {
        this.#again = false;
        do {
          while (!this.#stopped) {
            const n = ring.takeRequests(scratch);
            if (n === 0) break;
            if (!took) stats.wakeups++;
            took = true;
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
      verdict.kind === 'io' && verdict.barrier
        ? this.#barrier(verdict)
        : this.#fence
          ? this.#afterFence(verdict)
          : this.#carryOut(verdict);
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
    await this.#fence?.catch(() => {});
    await this.#carryOut(verdict);
  }

  async #carryOut(verdict: IoPlan | DiscardPlan): Promise<void> {
    let status: number = BlkifStatus.okay;
    try {
      if (verdict.kind === 'discard') {
        await this.#discard(verdict);
      } else {
        const segments = verdict.indirect
          ? this.#readIndirect(verdict)
          : segmentList(verdict.segments);
        if ('kind' in segments) {
          this.#respond(segments);
          return;
        }
        const { disk } = this.#o;
        if (verdict.preflush) {
          this.#o.stats.flushes++;
          await disk.flush?.();
        }
        if (segments.refs.length > 0) {
          // Awaited here, not in a helper: the answer goes out one turn after the disk's.
          const { buffers, bytes, lease } = this.#transfer(verdict, segments);
          try {
            await (verdict.write
              ? disk.write(verdict.sector, buffers)
              : disk.read(verdict.sector, buffers));
          } finally {
            lease.release();
          }
          this.#count(verdict, bytes);
          if (verdict.postflush) await disk.flush?.();
        }
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
  #readIndirect(plan: IoPlan): SegmentList | Refusal {
    const lease = this.#lease((plan.indirect as NonNullable<IoPlan['indirect']>).refs, true);
    try {
      this.#o.stats.indirect++;
      return checkIndirectSegments(plan, lease.pages, this.#o.limits);
    } finally {
      lease.release();
    }
  }

  /**
   * Maps a read's or write's pages and lists the buffers the disk copies to or from: the
   * guest's pages themselves, a whole page as it is. The lease is the caller's to release.
   */
  #transfer(plan: IoPlan, { refs, spans }: SegmentList) {
    // The disk reads guest memory for a write: such pages need only be mapped read-only.
    const lease = this.#lease(refs, plan.write);
    const buffers: Uint8Array[] = new Array(refs.length);
    let bytes = 0;
    for (let i = 0; i < refs.length; i++) {
      const span = spans[i] as number;
      const page = lease.pages[i] as Uint8Array;
      const start = (span & 0xff) * SECTOR_SIZE;
      const end = ((span >>> 8) + 1) * SECTOR_SIZE;
      buffers[i] = start === 0 && end === page.byteLength ? page : page.subarray(start, end);
      bytes += end - start;
    }
    return { buffers, bytes, lease };
  }

  #count(plan: IoPlan, bytes: number): void {
    const { stats } = this.#o;
    if (plan.write) {
      stats.writes++;
      stats.bytesWritten += bytes;
    } else {
      stats.reads++;
      stats.bytesRead += bytes;
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
    // The last request being carried out is answered at once; responses of requests finishing
    // together go out with one index store and at most one notification.
    if (this.#inflight.size <= 1) {
      this.#push();
      return;
    }
    if (this.#pushQueued) return;
    this.#pushQueued = true;
    queueMicrotask(() => {
      this.#pushQueued = false;
      if (!this.#stopped) this.#push();
    });
  }

  #push(): void {
    if (this.#o.ring.pushResponses()) {
      this.#o.stats.notifications++;
      this.#o.events.notify(this.#o.port);
    }
  }
}

/** A direct request's segments, listed as {@link checkIndirectSegments} lists indirect ones. */
function segmentList(segments: readonly BlkifSegment[]): SegmentList {
  const refs: number[] = new Array(segments.length);
  const spans: number[] = new Array(segments.length);
  for (let i = 0; i < segments.length; i++) {
    const { ref, firstSect, lastSect } = segments[i] as BlkifSegment;
    refs[i] = ref;
    spans[i] = firstSect | (lastSect << 8);
  }
  return { refs, spans };
}
