import { XenstoreError } from '../errors.ts';

/** An introduced domain: what INTRODUCE told the store about its ring. */
export interface Domain {
  readonly domid: number;
  /** Guest frame number of the ring page, as sent (signed, may exceed 2^53). */
  readonly gfn: bigint;
  /** Event channel of the ring (a new INTRODUCE re-binds it). */
  port: number;
  /** Set when the domain was reported shut down (RESUME clears it). */
  shutdown: boolean;
  /** The domain this one controls (SET_TARGET), if any. */
  target: number | undefined;
  /** Feature bits set with SET_FEATURE; undefined means all the server offers. */
  features: number | undefined;
  /** Known only because a connection speaks for it; a later INTRODUCE completes it. */
  readonly implicit: boolean;
  /** The store generation when the domain appeared (permission entries older than it lapse). */
  readonly generation: number;
}

/** Called when a domain comes or goes; a ring-serving layer attaches and detaches here. */
export type DomainListener = (domain: Domain) => void;

/**
 * The domains the store knows: dom0 from the start, guests from INTRODUCE until RELEASE. Holds
 * only bookkeeping; what a release does to nodes, watches and connections is the server's job.
 */
export class DomainTable {
  readonly #domains = new Map<number, Domain>();
  readonly #introduced = new Set<DomainListener>();
  readonly #rebound = new Set<DomainListener>();
  readonly #released = new Set<DomainListener>();

  /** `clock` gives the store's current generation, stamped on each new domain. */
  constructor(readonly clock: () => number) {
    this.#domains.set(0, {
      domid: 0,
      gfn: 0n,
      port: 0,
      shutdown: false,
      target: undefined,
      features: undefined,
      implicit: false,
      generation: 0,
    });
  }

  /**
   * Records a domain. Returns true when it is new (introduction listeners are told). For a
   * domain already introduced only the port is updated, re-bind listeners are told and false is
   * returned: C re-binds the event channel then, whatever the port (a resumed guest's new
   * channel), and ignores the gfn.
   */
  introduce(domid: number, gfn: bigint, port: number): boolean {
    const known = this.#domains.get(domid);
    if (known && !known.implicit) {
      known.port = port;
      for (const listener of this.#rebound) listener(known);
      return false;
    }
    const domain: Domain = {
      domid,
      gfn,
      port,
      shutdown: false,
      target: known?.target,
      features: known?.features,
      implicit: false,
      generation: known?.generation ?? this.clock(),
    };
    this.#domains.set(domid, domain);
    for (const listener of this.#introduced) listener(domain);
    return true;
  }

  /** Records a domain a connection speaks for without INTRODUCE; listeners are not told. */
  assume(domid: number): void {
    if (this.#domains.has(domid)) return;
    this.#domains.set(domid, {
      domid,
      gfn: 0n,
      port: 0,
      shutdown: false,
      target: undefined,
      features: undefined,
      implicit: true,
      generation: this.clock(),
    });
  }

  /** Forgets a domain and tells listeners; ENOENT when unknown. */
  release(domid: number): Domain {
    const domain = this.require(domid);
    this.#domains.delete(domid);
    for (const listener of this.#released) listener(domain);
    return domain;
  }

  isIntroduced(domid: number): boolean {
    return this.#domains.has(domid);
  }

  get(domid: number): Domain | undefined {
    return this.#domains.get(domid);
  }

  /** The domain, or ENOENT. */
  require(domid: number): Domain {
    const domain = this.#domains.get(domid);
    if (!domain) throw new XenstoreError('ENOENT', `domain ${domid} is not introduced`);
    return domain;
  }

  /** Every known domain, dom0 first. */
  all(): IterableIterator<Domain> {
    return this.#domains.values();
  }

  /** Subscribes to introductions; returns the unsubscribe function. */
  onIntroduce(listener: DomainListener): () => void {
    this.#introduced.add(listener);
    return () => this.#introduced.delete(listener);
  }

  /** Subscribes to re-introductions (a new event channel); returns the unsubscribe function. */
  onRebind(listener: DomainListener): () => void {
    this.#rebound.add(listener);
    return () => this.#rebound.delete(listener);
  }

  /** Subscribes to releases; returns the unsubscribe function. */
  onRelease(listener: DomainListener): () => void {
    this.#released.add(listener);
    return () => this.#released.delete(listener);
  }
}
