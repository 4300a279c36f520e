import { NR_VIRQS } from '../arguments.ts';
import { EvtchnError } from '../errors.ts';
import { SharedLock } from './shared-lock.ts';

/** Size of a simulated guest page, the unit of a grant. */
export const PAGE_SIZE = 4096;

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

const MAGIC = 0x5845_4e31; // "XEN1"

// Header words.
const H_LOCK = 0;
const H_MAGIC = 1;
const H_MAX_DOMAINS = 2;
const H_PORTS = 3;
const H_GRANTS = 4;
const H_NEXT_OWNER = 5;
const HEADER_WORDS = 8;

// Per-domain words, then the port table, the two 2-level bitmaps and the grant table.
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

// Per-grant words.
const G_FLAGS = 0;
const G_GRANTEE = 1;
const G_MAPS = 2;
const GRANT_WORDS = 3;
export const GrantFlag = { inUse: 1, readonly: 2 } as const;

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
 * table) and the pages grants refer to. Every thread holding the buffer sees the same host;
 * mutations happen under {@link lock}, and sleepers wait on a domain's wake word.
 */
export class SharedState {
  readonly words: Int32Array;
  readonly pages: Uint8Array;
  readonly lock: SharedLock;
  readonly limits: SharedStateLimits;
  readonly #domainWords: number;
  readonly #portsBase: number;
  readonly #pendingBase: number;
  readonly #maskBase: number;
  readonly #grantsBase: number;
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
    this.lock = new SharedLock(this.words, H_LOCK);
    this.#domainWords = layout.domainWords;
    const bitmapWords = this.limits.portsPerDomain / 32;
    this.#portsBase = DOMAIN_FIXED_WORDS;
    this.#pendingBase = this.#portsBase + this.limits.portsPerDomain * PORT_WORDS;
    this.#maskBase = this.#pendingBase + bitmapWords;
    this.#grantsBase = this.#maskBase + bitmapWords;
  }

  static #layout(limits: SharedStateLimits): { words: number; domainWords: number; bytes: number } {
    const domainWords =
      DOMAIN_FIXED_WORDS +
      limits.portsPerDomain * PORT_WORDS +
      (limits.portsPerDomain / 32) * 2 +
      limits.grantsPerDomain * GRANT_WORDS;
    const words = HEADER_WORDS + limits.maxDomains * domainWords;
    const bytes = words * 4 + limits.maxDomains * limits.grantsPerDomain * PAGE_SIZE;
    return { words, domainWords, bytes };
  }

  /** Allocates and formats a fresh table. */
  static create(limits: SharedStateLimits): SharedState {
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
    const buffer = new SharedArrayBuffer(SharedState.#layout(limits).bytes);
    const header = new Int32Array(buffer, 0, HEADER_WORDS);
    header[H_MAX_DOMAINS] = maxDomains;
    header[H_PORTS] = portsPerDomain;
    header[H_GRANTS] = grantsPerDomain;
    header[H_NEXT_OWNER] = 1;
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
    return HEADER_WORDS + slot * this.#domainWords;
  }

  /** The slot holding live domain `domid`, or -1. Call with the lock held. */
  slotOf(domid: number): number {
    for (let slot = 0; slot < this.limits.maxDomains; slot++) {
      const base = this.domainBase(slot);
      if (this.words[base + D_STATE] === DomainState.alive && this.words[base + D_ID] === domid) {
        return slot;
      }
    }
    return -1;
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
    else Atomics.notify(this.words, index);
  }

  /** Runs `body` under the lock, then delivers the wake-ups it asked for. */
  locked<T>(body: () => T): T {
    this.lock.lock();
    this.#lockDepth++;
    try {
      return body();
    } finally {
      this.#lockDepth--;
      this.lock.unlock();
      for (const index of this.#deferredWakes) Atomics.notify(this.words, index);
      this.#deferredWakes.length = 0;
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
    return this.domainBase(slot) + this.#portsBase + port * PORT_WORDS;
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

  #bit(slot: number, base: number, port: number): [index: number, mask: number] {
    return [this.domainBase(slot) + base + (port >>> 5), 1 << (port & 31)];
  }

  /** Sets the pending bit; returns whether it was already set (`test_and_set_bit`). */
  testAndSetPending(slot: number, port: number): boolean {
    const [index, mask] = this.#bit(slot, this.#pendingBase, port);
    return (Atomics.or(this.words, index, mask) & mask) !== 0;
  }

  isPending(slot: number, port: number): boolean {
    const [index, mask] = this.#bit(slot, this.#pendingBase, port);
    return (Atomics.load(this.words, index) & mask) !== 0;
  }

  clearPending(slot: number, port: number): void {
    const [index, mask] = this.#bit(slot, this.#pendingBase, port);
    Atomics.and(this.words, index, ~mask);
  }

  isMasked(slot: number, port: number): boolean {
    const [index, mask] = this.#bit(slot, this.#maskBase, port);
    return (Atomics.load(this.words, index) & mask) !== 0;
  }

  setMasked(slot: number, port: number, masked: boolean): void {
    const [index, mask] = this.#bit(slot, this.#maskBase, port);
    if (masked) Atomics.or(this.words, index, mask);
    else Atomics.and(this.words, index, ~mask);
  }

  /** Ports of domain `slot` that are pending and not masked, in ascending order. */
  deliverablePorts(slot: number): number[] {
    const ports: number[] = [];
    const base = this.domainBase(slot);
    const words = this.limits.portsPerDomain / 32;
    for (let w = 0; w < words; w++) {
      let bits =
        Atomics.load(this.words, base + this.#pendingBase + w) &
        ~Atomics.load(this.words, base + this.#maskBase + w);
      while (bits !== 0) {
        const bit = 31 - Math.clz32(bits & -bits);
        ports.push(w * 32 + bit);
        bits &= bits - 1;
      }
    }
    return ports;
  }

  // ---- grants --------------------------------------------------------------------------------

  #grantIndex(slot: number, ref: number): number {
    return this.domainBase(slot) + this.#grantsBase + ref * GRANT_WORDS;
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
    this.words[i + G_FLAGS] = flags;
    this.words[i + G_GRANTEE] = grantee;
    this.words[i + G_MAPS] = maps;
  }

  /** The page backing grant `ref` of domain `slot`: the same memory in every thread. */
  page(slot: number, ref: number): Uint8Array {
    const offset = (slot * this.limits.grantsPerDomain + ref) * PAGE_SIZE;
    return this.pages.subarray(offset, offset + PAGE_SIZE);
  }
}
