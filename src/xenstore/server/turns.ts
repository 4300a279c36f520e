/** How often connections held back by their unread output are looked at again. */
const RECHECK_MS = 10;

/**
 * Settled once: a reaction to it is a microtask without what `queueMicrotask` adds (an async
 * resource and a bound function per call), and a turn ends after nearly every request.
 */
const SETTLED = Promise.resolve();

/**
 * The turns of C xenstored's main loop, for connections whose medium carries many requests at
 * once (sockets, rings): in each turn every connection with requests waiting gets one served,
 * in the order the connections became ready, so one connection's batch cannot hold the others.
 *
 * A turn ends when the event loop has had a chance to read other connections: a request that
 * arrives for a connection not yet served in this turn is served at once (no latency for a
 * client sending one request at a time), the rest wait for a pass, which runs from
 * `setImmediate`, i.e. after the event loop has polled for input.
 */
export class Turns<Conn> {
  /** Counts turns; a connection remembers the one it was last served in. */
  turn = 0;
  /** Connections with requests waiting, in the order they became ready. */
  readonly ready = new Set<Conn>();
  /** Connections with requests waiting whose peer has too much output unread. */
  readonly blocked = new Set<Conn>();
  #passScheduled = false;
  #turnEnding = false;
  #recheck: ReturnType<typeof setTimeout> | undefined;
  readonly #endTurn = (): void => {
    this.#turnEnding = false;
    this.turn++;
  };
  readonly #runPass = (): void => {
    this.#passScheduled = false;
    this.turn++;
    this.pass();
  };
  readonly #unblock = (): void => {
    this.#recheck = undefined;
    for (const conn of this.blocked) this.ready.add(conn);
    this.blocked.clear();
    this.schedulePass();
  };

  /** `pass` serves one request of each ready connection (and delivers held output). */
  constructor(readonly pass: () => void) {}

  /** Ends the current turn once the current callback returns. */
  endTurnSoon(): void {
    if (this.#turnEnding) return;
    this.#turnEnding = true;
    void SETTLED.then(this.#endTurn);
  }

  /** Runs a pass after the event loop has polled for input. */
  schedulePass(): void {
    if (this.#passScheduled) return;
    this.#passScheduled = true;
    setImmediate(this.#runPass);
  }

  /** Holds `conn` back until its peer may have read its output: it is looked at again later. */
  block(conn: Conn): void {
    this.ready.delete(conn);
    this.blocked.add(conn);
    if (this.#recheck === undefined) {
      this.#recheck = setTimeout(this.#unblock, RECHECK_MS);
      this.#recheck.unref?.();
    }
  }

  /** Forgets a closed connection. */
  forget(conn: Conn): void {
    this.ready.delete(conn);
    this.blocked.delete(conn);
  }
}
