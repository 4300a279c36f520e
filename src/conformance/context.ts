import { type TransportConnector, XenstoreClient } from '../xenstore/index.ts';
import { CheckFailure } from './check.ts';
import { CheckConnection } from './connection.ts';
import type { GuestDomains, IntroduceArguments } from './guests.ts';

/** The server under test, as the suite reaches it. */
export interface ConformanceTarget {
  /** Privileged (dom0) connections: the server's unix socket. */
  readonly dom0: TransportConnector;
  /** Connections as guest domains; without them, checks that need guests are skipped. */
  readonly guests?: GuestDomains;
  /**
   * The guest domids the suite may introduce, release and write below `/local/domain/<domid>`
   * (at least three; default 1, 2, 3). They must not be live domains of a real host.
   */
  readonly guestDomids?: readonly number[];
  /** How long to wait for any one reply, in milliseconds (default 5000). */
  readonly replyTimeoutMs?: number;
}

/** The guest domains a target lends when it names none. */
export const DEFAULT_GUEST_DOMIDS: readonly number[] = [1, 2, 3];

/** A default reply wait long enough for a daemon under load, short enough to notice a hang. */
export const DEFAULT_REPLY_TIMEOUT_MS = 5000;

/** An introduced guest domain and the connection speaking for it. */
export interface Guest {
  /** The domain, one of the target's lent {@link ConformanceTarget.guestDomids}. */
  readonly domid: number;
  /** `/local/domain/<domid>`. */
  readonly home: string;
  /** A connection speaking as the guest, closed after the check. */
  readonly conn: CheckConnection;
}

/**
 * What a check works with: fresh connections, guest domains, and a scratch node of its own.
 * Everything a check opens, introduces or creates is undone after it (connections closed, guests
 * released, the scratch node and the guests' homes removed), so checks are independent.
 */
export class CheckContext {
  readonly #target: ConformanceTarget;
  readonly #connections: CheckConnection[] = [];
  readonly #clients: XenstoreClient[] = [];
  readonly #guests = new Set<number>();
  readonly #deferred: (() => Promise<void>)[] = [];
  #admin: CheckConnection | undefined;

  constructor(
    target: ConformanceTarget,
    /** The check's scratch node, created (empty, dom0's) before it runs. */
    readonly base: string,
  ) {
    this.#target = target;
  }

  /** A path below the scratch node. */
  path(...parts: string[]): string {
    return [this.base, ...parts].join('/');
  }

  /** How long each connection waits for a reply, in milliseconds (the target's, else 5000). */
  get replyTimeoutMs(): number {
    return this.#target.replyTimeoutMs ?? DEFAULT_REPLY_TIMEOUT_MS;
  }

  /** Opens a connection through `connector`, closed after the check. */
  async connect(connector: TransportConnector, label: string): Promise<CheckConnection> {
    const conn = await CheckConnection.open(connector, label, this.replyTimeoutMs);
    this.#connections.push(conn);
    return conn;
  }

  /** xenwire's own client on a new privileged connection, for checks of what clients rely on. */
  async client(): Promise<XenstoreClient> {
    const client = await XenstoreClient.connect({
      transport: this.#target.dom0,
      timeout: this.replyTimeoutMs,
      busyPoll: false,
    });
    this.#clients.push(client);
    return client;
  }

  /** A new privileged connection. */
  dom0(): Promise<CheckConnection> {
    return this.connect(this.#target.dom0, 'dom0');
  }

  /** One privileged connection shared by the check's setup steps. */
  async admin(): Promise<CheckConnection> {
    this.#admin ??= await this.dom0();
    return this.#admin;
  }

  /**
   * Readies the next unused guest domain for INTRODUCE without introducing it (for checks that
   * send INTRODUCE themselves); it is released after the check all the same.
   */
  async reserveGuest(): Promise<
    {
      /** The domain reserved; no other check of this run gets it. */
      domid: number;
    } & IntroduceArguments
  > {
    const guests = this.#requireGuests();
    const domids = this.#target.guestDomids ?? DEFAULT_GUEST_DOMIDS;
    const domid = domids.find((candidate) => !this.#guests.has(candidate));
    if (domid === undefined) {
      throw new CheckFailure(`the check needs more than the ${domids.length} guest domains lent`);
    }
    this.#guests.add(domid);
    return { domid, ...(await guests.prepare(domid)) };
  }

  /** INTRODUCE from dom0, which must succeed. */
  async introduce(domid: number, args: IntroduceArguments): Promise<void> {
    const admin = await this.admin();
    await admin.ok({ op: 'INTRODUCE', domid, gfn: args.gfn, port: args.port });
  }

  /** A connection speaking for guest `domid` (introduced already). */
  connectGuest(domid: number): Promise<CheckConnection> {
    return this.connect(this.#requireGuests().connector(domid), `dom${domid}`);
  }

  /**
   * Introduces a guest domain and connects as it. Unless `home` is false, its home
   * `/local/domain/<domid>` is created and given to it, as a toolstack does.
   */
  async guest(options: { home?: boolean } = {}): Promise<Guest> {
    const { domid, ...args } = await this.reserveGuest();
    await this.introduce(domid, args);
    const home = `/local/domain/${domid}`;
    if (options.home ?? true) {
      const admin = await this.admin();
      await admin.mkdir(home);
      await admin.setPerms(home, [`n${domid}`]);
    }
    return { domid, home, conn: await this.connectGuest(domid) };
  }

  /**
   * Introduces `domid` again once it was released or died, as a new domain with the same id (a
   * fresh ring or socket), and connects as it.
   */
  async reintroduce(domid: number): Promise<CheckConnection> {
    if (!this.#guests.has(domid)) throw new CheckFailure(`domain ${domid} was never reserved`);
    await this.introduce(domid, await this.#requireGuests().prepare(domid));
    return this.connectGuest(domid);
  }

  /** Makes guest `domid` die as its hypervisor reports it (needs the `domain-death` capability). */
  async destroy(domid: number): Promise<void> {
    const destroy = this.#requireGuests().destroy;
    if (!destroy) throw new CheckFailure('this target cannot make a domain die');
    await destroy(domid);
  }

  /** Runs `undo` after the check (latest first), before connections close. */
  defer(undo: () => Promise<void>): void {
    this.#deferred.push(undo);
  }

  #requireGuests(): GuestDomains {
    const guests = this.#target.guests;
    if (!guests) throw new CheckFailure('this target offers no guest connections');
    return guests;
  }

  /**
   * Undoes the check: deferred steps, connections, guests (released from dom0, their homes
   * removed), the scratch node. Returns the problems met, which mean the server is no longer in
   * the state later checks assume.
   */
  async cleanup(scratch: CheckConnection): Promise<string[]> {
    const problems: string[] = [];
    const attempt = async (what: string, step: () => Promise<unknown>) => {
      try {
        await step();
      } catch (error) {
        problems.push(`${what}: ${(error as Error).message}`);
      }
    };
    for (const undo of this.#deferred.reverse()) await attempt('undoing a step', undo);
    for (const conn of this.#connections) conn.close();
    for (const client of this.#clients) await attempt('closing a client', () => client.close());
    // Latest first: a controller (SET_TARGET) goes before its target, which C 4.17 cannot
    // release while a controller still refers to it.
    for (const domid of [...this.#guests].reverse()) {
      // Already released, or never introduced, is fine: only the end state matters.
      await attempt(`releasing domain ${domid}`, () => scratch.request({ op: 'RELEASE', domid }));
      await attempt(`disposing of domain ${domid}`, () => this.#target.guests!.dispose(domid));
      await attempt(`removing domain ${domid}'s home`, () =>
        scratch.request({ op: 'RM', path: `/local/domain/${domid}` }),
      );
    }
    await attempt('removing the scratch node', () => scratch.rm(this.base));
    return problems;
  }
}
