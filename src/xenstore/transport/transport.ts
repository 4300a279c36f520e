import type { Message, OutgoingMessage } from '../wire.ts';

/**
 * The contracts of a transport, both ends side by side. Each end opens a message pipe by handing
 * over the handlers that receive the other end's messages, and gets back a {@link Transport}:
 *
 * - a client end calls a {@link TransportConnector} (a socket, a ring page, the xenbus device, an
 *   in-process server);
 * - a server end (a socket listener, a ring server) calls {@link XenstoreService.connect} for each
 *   peer, speaking for the peer's domain.
 *
 * Byte media are framed at both ends by the same {@link MessageFramer} (see `framedTransport`);
 * message media pass messages through.
 */

/**
 * What a transport reports to its owner.
 * @category Transports
 */
export interface TransportHandlers {
  /** One whole message from the other end, in arrival order. */
  onMessage(message: Message): void;
  /**
   * The connection ended, called at most once. `reason` is absent for an orderly close; a
   * framing failure arrives as an `EPROTO` {@link "xenstore/codec".XenstoreError | XenstoreError}.
   */
  onClose(reason?: Error): void;
}

/**
 * A message pipe to the other end.
 * @category Transports
 */
export interface Transport {
  /** Queues one message; may batch several sent in the same tick into one write. */
  send(message: OutgoingMessage): void;
  /** Ends the connection; `onClose` follows. Idempotent. */
  close(): void;
}

/**
 * The client end: opens a transport to a server. The client calls it once per connection, again
 * on each reconnect, so it must open a fresh connection every time.
 * @category Transports
 */
export type TransportConnector = (handlers: TransportHandlers) => Promise<Transport>;

/**
 * How a server end attaches one peer to the daemon.
 * @category Transports
 */
export interface ConnectOptions {
  /** The domain the connection speaks for; 0 (privileged) unless given. */
  readonly domid?: number;
  /** Receives every reply and watch event, in order. */
  readonly onMessage: (message: Message) => void;
  /** Called once when the connection ends, with the reason if it was not closed by `close()`. */
  readonly onClose?: (reason?: Error) => void;
  /**
   * Bytes handed to `onMessage` that the peer has not taken yet (a socket's unsent bytes, a
   * ring's queued output). An unprivileged connection whose backlog would exceed its domain's
   * memory quota loses further watch events, as C xenstored drops them, so a guest that never
   * reads cannot make the server queue without bound. Without it nothing is dropped.
   */
  readonly backlog?: () => number;
  /**
   * Serve this connection as C xenstored serves its connections: one request per turn of the
   * daemon's loop, in turn with the other fair connections, its output handed on a bounded amount
   * per turn, and no request served while its unread output (`backlog`; for a guest, all its
   * connections' together) has reached the memory quota. Requests then wait in the daemon:
   * `queued` counts them, and a transport stops reading while any wait, until `onDrained`. For
   * media that carry many requests at once from a peer that may be hostile (sockets, rings);
   * without it every request is served as it is sent.
   */
  readonly fair?: boolean;
  /** A fair connection's waiting requests have all been served: its transport may read again. */
  readonly onDrained?: () => void;
  /**
   * Writes bytes to the peer as they are, in order with `onMessage`'s, on byte media: what fault
   * injection needs to split a message into several writes or tear one in half.
   */
  readonly writeBytes?: (bytes: Uint8Array) => void;
}

/**
 * {@link ConnectOptions}, plus privilege for socket listeners.
 * @category Transports
 */
export interface ServerConnectOptions extends ConnectOptions {
  /**
   * Force privilege. Unix-socket connections of the dom0 socket are privileged whatever their
   * domid, as in C; by default only dom0 and the daemon's privileged domain are.
   */
  readonly privileged?: boolean;
}

/**
 * The daemon's end of one peer. Replies and events are delivered in order through `onMessage`,
 * never re-entrantly: a `send` made from inside `onMessage` is queued and answered once the
 * current delivery returns. Unless the connection is fair, that is still before the outermost
 * `send` returns: everything is delivered synchronously.
 * @category Transports
 */
export interface XenstoreConnection {
  /** Server-wide connection number (trace records name it). */
  readonly id: number;
  /** The domain the connection speaks for. */
  readonly domid: number;
  /** Sends one request. */
  send(message: Message): void;
  /** Requests sent and not served yet (only a fair connection has any; see `ConnectOptions.fair`). */
  readonly queued: number;
  /** Ends the connection: its watches and open transactions are discarded. */
  close(): void;
}

/**
 * A domain the daemon knows: where a ring server finds its page and event channel.
 * @category Transports
 */
export interface ServedDomain {
  /** The domain's id. */
  readonly domid: number;
  /** Guest frame number of the ring page, as INTRODUCE sent it. */
  readonly gfn: bigint;
  /** Event channel of the ring (a new INTRODUCE re-binds it). */
  readonly port: number;
  /** Known only because a connection speaks for it, not introduced: it has no ring. */
  readonly implicit: boolean;
}

/**
 * The domains the daemon knows, and their comings and goings.
 * @category Transports
 */
export interface DomainDirectory {
  /** Whether the domain was introduced (and not released since). */
  isIntroduced(domid: number): boolean;
  /** The domain with this domid, introduced or assumed; `undefined` when unknown. */
  get(domid: number): ServedDomain | undefined;
  /** Records a domain a connection speaks for without INTRODUCE. */
  assume(domid: number): void;
  /** Every known domain, dom0 first. */
  all(): Iterable<ServedDomain>;
  /** Subscribes to introductions; returns the unsubscribe function. */
  onIntroduce(listener: (domain: ServedDomain) => void): () => void;
  /** Subscribes to re-introductions (a new event channel); returns the unsubscribe function. */
  onRebind(listener: (domain: ServedDomain) => void): () => void;
  /** Subscribes to releases; returns the unsubscribe function. */
  onRelease(listener: (domain: ServedDomain) => void): () => void;
}

/**
 * The server end's contract: what a listener or a ring server needs of the daemon.
 * @category Transports
 */
export interface XenstoreService {
  /** Opens a connection speaking for a domain; see {@link ServerConnectOptions}. */
  connect(options: ServerConnectOptions): XenstoreConnection;
  /** The domains the daemon knows. */
  readonly domains: DomainDirectory;
  /** RELEASE from outside the protocol: the domain died. */
  releaseDomain(domid: number): void;
}
