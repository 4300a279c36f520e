/** errno-style codes carried by {@link RingError}. */
export type RingErrorCode =
  /** Bad argument: a layout, size or offset that cannot describe a ring. */
  | 'EINVAL'
  /** The peer broke the protocol: indices further apart than the ring holds. */
  | 'EPROTO'
  /** No free slot: the ring is full (front-end request, back-end response). */
  | 'ENOSPC'
  /** The peer has not connected (console `connection` flag) or is reconnecting. */
  | 'ENOTCONN'
  /** The operation belongs to the other end of the ring (e.g. a guest completing a reconnect). */
  | 'EPERM';

/** Every error this module throws for bad input or a misbehaving peer. */
export class RingError extends Error {
  /** `'RingError'`, or the subclass's name, for logs that print only `name: message`. */
  override readonly name: string = 'RingError';
  constructor(
    /** What went wrong, errno-style: branch on this, not on the message. */
    readonly code: RingErrorCode,
    message: string,
  ) {
    super(`${code}: ${message}`);
  }
}

/**
 * The producer and consumer indices of a ring are further apart than the ring is long
 * (`prod - cons > size` in free-running u32 arithmetic). Only a broken or hostile peer produces
 * this; the ring cannot be used again until it is reset (for xenstore: the reconnection
 * handshake). Xen names it `XENSTORE_ERROR_RINGIDX`, `RING_*_PROD_OVERFLOW` in `ring.h`.
 */
export class RingIndexError extends RingError {
  /** Always `'RingIndexError'`; {@link code} is `'EPROTO'`. */
  override readonly name = 'RingIndexError';
  constructor(
    /** Name of the ring direction whose indices are corrupt, e.g. `xenstore.rsp`. */
    readonly ring: string,
    /** The consumer index as read from shared memory (free-running u32). */
    readonly cons: number,
    /** The producer index as read from shared memory (free-running u32). */
    readonly prod: number,
    /** Capacity of the ring: entries for a request/response ring, bytes for a byte ring. */
    readonly size: number,
  ) {
    super(
      'EPROTO',
      `${ring}: peer left indices cons=${cons} prod=${prod}, ${(prod - cons) >>> 0} apart in a ring of ${size}`,
    );
  }
}

/**
 * True when `err` is a {@link RingError} (a {@link RingIndexError} included), with the given code
 * if one is named.
 */
export function isRingError(err: unknown, code?: RingErrorCode): err is RingError {
  return err instanceof RingError && (code === undefined || err.code === code);
}
