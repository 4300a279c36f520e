import { isNativeAvailable, loadNative, type XenwireNative } from '../../device/native.ts';
import { XEN_PAGE_SIZE } from '../../ring/memory.ts';
import { NR_VIRQS } from '../arguments.ts';
import { EvtchnError } from '../errors.ts';
import { SharedLock } from './shared-lock.ts';

/** Port states, numbered like `EVTCHNSTAT_*` in event_channel.h. */
export const PortState = {
  free: 0,
  unbound: 1,
  interdomain: 2,
  virq: 4,
  ipi: 5,
} as const;
export type PortStateCode = (typeof PortState)[keyof typeof PortState];

/** Domain slot states. */
export const DomainState = { free: 0, alive: 1 } as const;

/** Sizes chosen when the shared table is created; fixed for its lifetime. */
export interface SharedStateLimits {
  /** Domains that can exist at once, dom0 included. */
  readonly maxDomains: number;
  /** Ports per domain (a multiple of 32; port 0 is reserved as in Xen). */
  readonly portsPerDomain: number;
  /** Grant references per domain, each backed by one page. */
  readonly grantsPerDomain: number;
}

/** How threads of one host sleep; fixed when the host is created, since all must agree. */
export interface WaitOptions {
  /**
   * Blocking waits use the native addon's futex rather than `Atomics.wait`, about twice as
   * fast a wake-up. Every thread attaching to the host then needs the addon. Default: on when
   * the addon loads.
   */
  readonly nativeFutex?: boolean;
}

const MAGIC = 0x5845_4e31; // "XEN1"

// Header words.
const H_LOCK = 0;
const H_MAGIC = 1;
const H_MAX_DOMAINS = 2;
const H_PORTS = 3;
const H_GRANTS = 4;
const H_NEXT_OWNER = 5;
const H_FLAGS = 6;
/** The thread being stopped, see {@link SharedLock.stopThread}. */
const H_STOPPING = 7;
const HEADER_WORDS = 8;
/**
 * Words of a page. The header takes the first page and every domain slot and grant page starts
 * on a page of its own, so that a domain touches whole pages of memory: a 4096-byte grant page
 * that straddled two pages would commit both.
 */
const PAGE_WORDS = XEN_PAGE_SIZE / 4;
/**
 * Memory is allocated as a WebAssembly memory when it fits one: unlike a plain
 * `SharedArrayBuffer` (which `malloc` places 16 bytes into a page), its bytes start on a page.
 */
const WASM_PAGE_SIZE = 65536;
const WASM_MAX_PAGES = 65536;
/** Sleepers use the native addon's futex instead of `Atomics.wait`. */
const FLAG_NATIVE_FUTEX = 1;
/** Longest single native futex sleep (see {@link SharedState.waitSync}). */
const NATIVE_WAIT_SLICE_MS = 500;

// Each domain has a hot part and a cold part. The hot part holds its words, then the two 2-level
// bitmaps and their selector, the entries of its first HOT_GRANTS grants and of its first
// HOT_PORTS ports: all a guest with a few grants and ports touches. The hot parts of all domains
// lie side by side, so a thousand such guests commit about 1.5 KB each rather than a page. The
// cold part holds the other grants' and ports' entries, a page-aligned region per domain that is
// never committed unless those are used.
const D_STATE = 0;
const D_ID = 1;
const D_WAKE = 2;
const D_VIRQ = 3;
const DOMAIN_FIXED_WORDS = D_VIRQ + NR_VIRQS;

// Per-port words.
const P_STATE = 0;
/** unbound: allowed remote domid; interdomain: remote domid; virq: the virq. */
const P_A = 1;
/** interdomain: remote port. */
const P_B = 2;
/** Handle that receives this port's events (0: none). */
const P_OWNER = 3;
const PORT_WORDS = 4;
/** Ports whose entries are in a domain's hot part (a guest binds two: xenstore, console). */
const HOT_PORTS = 8;

// Per-grant words.
const G_FLAGS = 0;
const G_GRANTEE = 1;
const G_MAPS = 2;
const GRANT_WORDS = 3;
/** Grants whose entries are in a domain's hot part: the reserved ones and the first few free. */
const HOT_GRANTS = 16;
export const GrantFlag = {
  inUse: 1,
  readonly: 2,
  /** Access was ended while mapped: the grant goes with its last mapping. */
  ending: 4,
} as const;

/** A decoded port-table entry. */
export interface PortEntry {
  readonly state: PortStateCode;
  readonly a: number;
  readonly b: number;
  readonly owner: number;
}

/**
 * The whole simulated host in one `SharedArrayBuffer`: a header with the lock word, one slot per
 * domain (its port table, pending and mask bitmaps, virq bindings, a wake-up word and its grant
 * table; a hot and a cold part, see above) and the pages grants refer to. Every thread holding the buffer sees the same host;
 * mutations happen under its lock ({@link locked}), and sleepers wait on a domain's wake word.
 */
export class SharedState {
  readonly words: Int32Array;
  readonly pages: Uint8Array;
  readonly #lock: SharedLock;
  readonly limits: SharedStateLimits;
  readonly #hotWords: number;
  readonly #coldWords: number;
  readonly #coldStart: number;
  readonly #hotPorts: number;
  readonly #hotGrants: number;
  readonly #portsBase: number;
  readonly #pendingBase: number;
  readonly #maskBase: number;
  readonly #selectorBase: number;
  readonly #selectorWords: number;
  readonly #grantsBase: number;
  readonly #futex: Pick<XenwireNative, 'futexWait' | 'futexWake'> | undefined;
  /** This thread's memory of where each domain lives; checked against the table on every use. */
  readonly #slotHints = new Map<number, number>();
  #lockDepth = 0;
  readonly #deferredWakes: number[] = [];

  private constructor(readonly buffer: SharedArrayBuffer) {
    const header = new Int32Array(buffer, 0, HEADER_WORDS);
    if (header[H_MAGIC] !== MAGIC) {
      throw new EvtchnError('EINVAL', 'buffer does not hold a simulated hypervisor');
    }
    this.limits = {
      maxDomains: header[H_MAX_DOMAINS]!,
      portsPerDomain: header[H_PORTS]!,
      grantsPerDomain: header[H_GRANTS]!,
    };
    const layout = SharedState.#layout(this.limits);
    if (buffer.byteLength !== layout.bytes) {
      throw new EvtchnError('EINVAL', 'simulated hypervisor buffer has the wrong size');
    }
    this.words = new Int32Array(buffer, 0, layout.words);
    this.pages = new Uint8Array(buffer, layout.words * 4);
    this.#lock = new SharedLock(this.words, H_LOCK, H_STOPPING);
    this.#futex = header[H_FLAGS]! & FLAG_NATIVE_FUTEX ? loadNative() : undefined;
    this.#hotWords = layout.hotWords;
    this.#coldWords = layout.coldWords;
    this.#coldStart = layout.coldStart;
    this.#hotPorts = layout.hotPorts;
    this.#hotGrants = layout.hotGrants;
    const bitmapWords = this.limits.portsPerDomain / 32;
    this.#pendingBase = DOMAIN_FIXED_WORDS;
    this.#maskBase = this.#pendingBase + bitmapWords;
    this.#selectorBase = this.#maskBase + bitmapWords;
    this.#selectorWords = Math.ceil(bitmapWords / 32);
    this.#grantsBase = this.#selectorBase + this.#selectorWords;
    this.#portsBase = this.#grantsBase + this.#hotGrants * GRANT_WORDS;
  }

  static #layout(limits: SharedStateLimits) {
    const hotPorts = Math.min(HOT_PORTS, limits.portsPerDomain);
    const hotGrants = Math.min(HOT_GRANTS, limits.grantsPerDomain);
    const hotWords =
      DOMAIN_FIXED_WORDS +
      (limits.portsPerDomain / 32) * 2 +
      Math.ceil(limits.portsPerDomain / 32 / 32) +
      hotGrants * GRANT_WORDS +
      hotPorts * PORT_WORDS;
    const coldWords = roundUp(
      (limits.grantsPerDomain - hotGrants) * GRANT_WORDS +
        (limits.portsPerDomain - hotPorts) * PORT_WORDS,
      PAGE_WORDS,
    );
    const coldStart = PAGE_WORDS + roundUp(limits.maxDomains * hotWords, PAGE_WORDS);
    const words = coldStart + limits.maxDomains * coldWords;
    const bytes = roundUp(
      words * 4 + limits.maxDomains * limits.grantsPerDomain * XEN_PAGE_SIZE,
      WASM_PAGE_SIZE,
    );
    return { words, hotWords, coldWords, coldStart, hotPorts, hotGrants, bytes };
  }

  /** Allocates and formats a fresh table. */
  static create(limits: SharedStateLimits, wait: WaitOptions = {}): SharedState {
    const { maxDomains, portsPerDomain, grantsPerDomain } = limits;
    for (const [name, value, min] of [
      ['maxDomains', maxDomains, 1],
      ['portsPerDomain', portsPerDomain, 32],
      ['grantsPerDomain', grantsPerDomain, 0],
    ] as const) {
      if (!Number.isInteger(value) || value < min || value > 1 << 16) {
        throw new EvtchnError('EINVAL', `${name} must be an integer in ${min} … 65536`);
      }
    }
    if (portsPerDomain % 32 !== 0) {
      throw new EvtchnError('EINVAL', 'portsPerDomain must be a multiple of 32');
    }
    const buffer = pageAlignedBuffer(SharedState.#layout(limits).bytes);
    const header = new Int32Array(buffer, 0, HEADER_WORDS);
    header[H_MAX_DOMAINS] = maxDomains;
    header[H_PORTS] = portsPerDomain;
    header[H_GRANTS] = grantsPerDomain;
    header[H_NEXT_OWNER] = 1;
    if (wait.nativeFutex ?? isNativeAvailable()) header[H_FLAGS] = FLAG_NATIVE_FUTEX;
    Atomics.store(header, H_MAGIC, MAGIC);
    return new SharedState(buffer);
  }

  /** Attaches to a table created elsewhere (typically in another thread). */
  static attach(buffer: SharedArrayBuffer): SharedState {
    if (!(buffer instanceof SharedArrayBuffer) || buffer.byteLength < HEADER_WORDS * 4) {
      throw new EvtchnError('EINVAL', 'expected the SharedArrayBuffer of a simulated hypervisor');
    }
    return new SharedState(buffer);
  }

  /** A process-wide unique id for a new event-channel handle. */
  newOwnerId(): number {
    return Atomics.add(this.words, H_NEXT_OWNER, 1);
  }

  // ---- domains -------------------------------------------------------------------------------

  /** Base word of domain slot `slot`. */
  domainBase(slot: number): number {
    return PAGE_WORDS + slot * this.#hotWords;
  }

  /**
   * The slot holding live domain `domid`, or -1. Call with the lock held. Every operation asks
   * this, so a host of a thousand domains remembers where it last found each one and scans only
   * when that slot no longer holds it.
   */
  slotOf(domid: number): number {
    const hint = this.#slotHints.get(domid);
    if (hint !== undefined && this.#holds(hint, domid)) return hint;
    for (let slot = 0; slot < this.limits.maxDomains; slot++) {
      if (this.#holds(slot, domid)) {
        this.#slotHints.set(domid, slot);
        return slot;
      }
    }
    this.#slotHints.delete(domid);
    return -1;
  }

  #holds(slot: number, domid: number): boolean {
    const base = this.domainBase(slot);
    return this.words[base + D_STATE] === DomainState.alive && this.words[base + D_ID] === domid;
  }

  /** Like {@link slotOf} but throws `ESRCH` for a domain that does not exist. */
  requireSlot(domid: number, operation: string): number {
    const slot = this.slotOf(domid);
    if (slot < 0) throw new EvtchnError('ESRCH', `${operation}: no domain ${domid}`);
    return slot;
  }

  freeSlot(): number {
    for (let slot = 0; slot < this.limits.maxDomains; slot++) {
      if (this.words[this.domainBase(slot) + D_STATE] === DomainState.free) return slot;
    }
    return -1;
  }

  /**
   * Zeroes the words of domain `slot` that are not zero yet. Writing only those keeps the pages
   * of a slot's unused port table uncommitted: a fresh table is all zeros and never touched.
   */
  clearSlot(slot: number): void {
    const cold = this.#coldBase(slot);
    for (const [start, end] of [
      [this.domainBase(slot), this.domainBase(slot + 1)],
      [cold, cold + this.#coldWords],
    ] as const) {
      const w = this.words;
      for (let i = start; i < end; i++) if (w[i] !== 0) w[i] = 0;
    }
  }

  domainState(slot: number): number {
    return this.words[this.domainBase(slot) + D_STATE]!;
  }

  domainId(slot: number): number {
    return this.words[this.domainBase(slot) + D_ID]!;
  }

  setDomain(slot: number, state: number, domid: number): void {
    const base = this.domainBase(slot);
    this.words[base + D_ID] = domid;
    Atomics.store(this.words, base + D_STATE, state);
  }

  /** Index of the word sleepers of domain `slot` wait on. */
  wakeIndex(slot: number): number {
    return this.domainBase(slot) + D_WAKE;
  }

  /**
   * Wakes every thread sleeping on domain `slot`. Inside {@link locked} the wake-up is deferred
   * until the lock is released, so the woken thread does not run straight into the held lock.
   */
  wake(slot: number): void {
    const index = this.wakeIndex(slot);
    Atomics.add(this.words, index, 1);
    if (this.#lockDepth > 0) this.#deferredWakes.push(index);
    else this.notify(index);
  }

  /** Wakes every thread sleeping on word `index`, however it sleeps. */
  notify(index: number): void {
    // Async waiters always use Atomics.waitAsync, so both kinds of sleeper may be present.
    Atomics.notify(this.words, index);
    this.#futex?.futexWake(this.words, index);
  }

  /**
   * Blocks the calling thread while word `index` holds `value`, like `Atomics.wait`; may
   * return early ('timed-out'), so callers loop on their own deadline.
   */
  waitSync(index: number, value: number, timeoutMs: number): 'ok' | 'not-equal' | 'timed-out' {
    // worker.terminate() can interrupt Atomics.wait but not a thread inside a system call, so a
    // native sleep is cut into slices after which the thread passes through JavaScript again.
    return this.#futex
      ? this.#futex.futexWait(this.words, index, value, Math.min(timeoutMs, NATIVE_WAIT_SLICE_MS))
      : Atomics.wait(this.words, index, value, timeoutMs);
  }

  /**
   * Ends thread `thread` through `stop` outside any operation (see {@link SharedLock.stopThread}).
   * It may still be stopped between an operation and the wake-ups that operation deferred, so
   * afterwards every domain's sleepers are woken: each looks again and finds what it was owed.
   */
  async stopThread<T>(thread: number, stop: () => Promise<T>): Promise<T> {
    try {
      return await this.#lock.stopThread(thread, stop);
    } finally {
      for (let slot = 0; slot < this.limits.maxDomains; slot++) {
        if (this.domainState(slot) !== DomainState.free) this.notify(this.wakeIndex(slot));
      }
    }
  }

  /** Runs `body` under the lock, then delivers the wake-ups it asked for. */
  locked<T>(body: () => T): T {
    this.#lock.lock();
    this.#lockDepth++;
    try {
      return body();
    } finally {
      this.#lockDepth--;
      this.#lock.unlock();
      for (
        let index = this.#deferredWakes.pop();
        index !== undefined;
        index = this.#deferredWakes.pop()
      ) {
        this.notify(index);
      }
    }
  }

  virqPort(slot: number, virq: number): number {
    return this.words[this.domainBase(slot) + D_VIRQ + virq]!;
  }

  setVirqPort(slot: number, virq: number, port: number): void {
    this.words[this.domainBase(slot) + D_VIRQ + virq] = port;
  }

  // ---- ports ---------------------------------------------------------------------------------

  #portIndex(slot: number, port: number): number {
    if (port < this.#hotPorts) return this.domainBase(slot) + this.#portsBase + port * PORT_WORDS;
    const coldGrantWords = (this.limits.grantsPerDomain - this.#hotGrants) * GRANT_WORDS;
    return this.#coldBase(slot) + coldGrantWords + (port - this.#hotPorts) * PORT_WORDS;
  }

  /** First word of domain `slot`'s cold part: its other grants' entries, then its other ports'. */
  #coldBase(slot: number): number {
    return this.#coldStart + slot * this.#coldWords;
  }

  port(slot: number, port: number): PortEntry {
    const i = this.#portIndex(slot, port);
    const w = this.words;
    return {
      state: w[i + P_STATE] as PortStateCode,
      a: w[i + P_A]!,
      b: w[i + P_B]!,
      owner: w[i + P_OWNER]!,
    };
  }

  setPort(
    slot: number,
    port: number,
    state: PortStateCode,
    a: number,
    b: number,
    owner: number,
  ): void {
    const i = this.#portIndex(slot, port);
    this.words[i + P_A] = a;
    this.words[i + P_B] = b;
    this.words[i + P_OWNER] = owner;
    this.words[i + P_STATE] = state;
  }

  /** Lowest free port above the reserved port 0, or -1 when the table is full. */
  freePort(slot: number): number {
    for (let port = 1; port < this.limits.portsPerDomain; port++) {
      if (this.words[this.#portIndex(slot, port) + P_STATE] === PortState.free) return port;
    }
    return -1;
  }

  // ---- 2-level pending and mask bitmaps -----------------------------------------------------
  // Every access happens with the lock held, whose atomic operations order them between
  // threads, so plain reads and writes suffice here.

  #bitIndex(slot: number, base: number, port: number): number {
    return this.domainBase(slot) + base + (port >>> 5);
  }

  /** Sets the pending bit; returns whether it was already set (`test_and_set_bit`). */
  testAndSetPending(slot: number, port: number): boolean {
    const index = this.#bitIndex(slot, this.#pendingBase, port);
    const bit = 1 << (port & 31);
    const was = (this.words[index]! & bit) !== 0;
    this.words[index]! |= bit;
    return was;
  }

  isPending(slot: number, port: number): boolean {
    return (this.words[this.#bitIndex(slot, this.#pendingBase, port)]! & (1 << (port & 31))) !== 0;
  }

  clearPending(slot: number, port: number): void {
    this.words[this.#bitIndex(slot, this.#pendingBase, port)]! &= ~(1 << (port & 31));
  }

  isMasked(slot: number, port: number): boolean {
    return (this.words[this.#bitIndex(slot, this.#maskBase, port)]! & (1 << (port & 31))) !== 0;
  }

  setMasked(slot: number, port: number, masked: boolean): void {
    const index = this.#bitIndex(slot, this.#maskBase, port);
    if (masked) this.words[index]! |= 1 << (port & 31);
    else this.words[index]! &= ~(1 << (port & 31));
  }

  /**
   * Flags the pending word holding `port` in the domain's selector (`evtchn_pending_sel`), the
   * 2-level ABI's first level, so a scan visits only words that may hold deliverable ports.
   */
  select(slot: number, port: number): void {
    const word = port >>> 5;
    this.words[this.domainBase(slot) + this.#selectorBase + (word >>> 5)]! |= 1 << (word & 31);
  }

  /**
   * Ports of domain `slot` that are pending and not masked, in ascending order. Consumes the
   * selector as a guest's upcall does; callers re-{@link select} ports they leave pending.
   */
  deliverablePorts(slot: number): number[] {
    const ports: number[] = [];
    const w = this.words;
    const base = this.domainBase(slot);
    for (let s = 0; s < this.#selectorWords; s++) {
      let selected = w[base + this.#selectorBase + s]!;
      w[base + this.#selectorBase + s] = 0;
      while (selected !== 0) {
        const word = s * 32 + (31 - Math.clz32(selected & -selected));
        selected &= selected - 1;
        let bits = w[base + this.#pendingBase + word]! & ~w[base + this.#maskBase + word]!;
        while (bits !== 0) {
          ports.push(word * 32 + (31 - Math.clz32(bits & -bits)));
          bits &= bits - 1;
        }
      }
    }
    return ports;
  }

  /** The handle a port is bound to (0: none). */
  portOwner(slot: number, port: number): number {
    return this.words[this.#portIndex(slot, port) + P_OWNER]!;
  }

  // ---- grants --------------------------------------------------------------------------------

  #grantIndex(slot: number, ref: number): number {
    if (ref < this.#hotGrants) return this.domainBase(slot) + this.#grantsBase + ref * GRANT_WORDS;
    return this.#coldBase(slot) + (ref - this.#hotGrants) * GRANT_WORDS;
  }

  grant(slot: number, ref: number): { flags: number; grantee: number; maps: number } {
    const i = this.#grantIndex(slot, ref);
    return {
      flags: this.words[i + G_FLAGS]!,
      grantee: this.words[i + G_GRANTEE]!,
      maps: this.words[i + G_MAPS]!,
    };
  }

  setGrant(slot: number, ref: number, flags: number, grantee: number, maps: number): void {
    const i = this.#grantIndex(slot, ref);
    // Words already holding the value are not written: revoking a domain's grants then leaves
    // the pages of its unused cold entries uncommitted.
    const w = this.words;
    if (w[i + G_FLAGS] !== flags) w[i + G_FLAGS] = flags;
    if (w[i + G_GRANTEE] !== grantee) w[i + G_GRANTEE] = grantee;
    if (w[i + G_MAPS] !== maps) w[i + G_MAPS] = maps;
  }

  /** The page backing grant `ref` of domain `slot`: the same memory in every thread. */
  page(slot: number, ref: number): Uint8Array {
    const offset = (slot * this.limits.grantsPerDomain + ref) * XEN_PAGE_SIZE;
    return this.pages.subarray(offset, offset + XEN_PAGE_SIZE);
  }
}

/** The part of `WebAssembly` used here (the typings in use leave it out). */
const wasm = (
  globalThis as unknown as {
    WebAssembly: {
      Memory: new (descriptor: {
        initial: number;
        maximum: number;
        shared: true;
      }) => { readonly buffer: SharedArrayBuffer };
    };
  }
).WebAssembly;

function roundUp(value: number, multiple: number): number {
  return Math.ceil(value / multiple) * multiple;
}

/**
 * A zeroed `SharedArrayBuffer` of `bytes` (a multiple of 64 KiB) whose first byte starts a page
 * of memory where that can be had: a shared WebAssembly memory's. A plain one is the fallback
 * (over 4 GiB, or where the address space for another WebAssembly memory is refused).
 */
function pageAlignedBuffer(bytes: number): SharedArrayBuffer {
  const pages = bytes / WASM_PAGE_SIZE;
  if (pages <= WASM_MAX_PAGES) {
    try {
      return new wasm.Memory({ initial: pages, maximum: pages, shared: true }).buffer;
    } catch {
      // Out of address space for WebAssembly memories: a plain buffer does as well, less tightly.
    }
  }
  return new SharedArrayBuffer(bytes);
}
