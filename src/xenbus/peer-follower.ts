import type { Watch, XenstoreClient } from '../xenstore/index.ts';
import { XenbusError } from './errors.ts';
import { readKeyIfPresent } from './keys.ts';
import type { DevicePlatform } from './platform.ts';
import { parseXenbusState, XenbusState, xenbusStateName } from './state.ts';

/**
 * What a wait makes of the peer's state: `true` to stop waiting, `false` to keep waiting, or the
 * error that ends the wait. `undefined` state: the node is absent.
 */
export type StateDecision = (state: XenbusState | undefined) => boolean | XenbusError;

/** Where the peer is and who can tell whether its domain lives. */
export interface Peer {
  /** The connection the peer's `state` key is read and watched through. */
  readonly client: XenstoreClient;
  /** Asked whether the peer's domain still exists, so a dead peer fails fast with `ESRCH`. */
  readonly platform: DevicePlatform;
  /** The peer's domain. */
  readonly domid: number;
  /** The peer's device directory; its `state` key is followed. */
  readonly path: string;
}

/** Limits of one wait. */
export interface FollowOptions {
  /** Give up with `ETIMEDOUT` after this long (default: never). */
  readonly timeoutMs?: number;
  /** Stop waiting, resolving `undefined`. */
  readonly signal?: AbortSignal;
  /** What is awaited, for the timeout message. */
  readonly what: string;
}

/**
 * Follows the peer's `state` through watches (on its directory and on `@releaseDomain`; no
 * polling) until `decide` says stop. The watches fire once on registration, so a state reached
 * before the wait began is seen too. A peer whose domain is gone ends the wait with `ESRCH`.
 * @returns the accepted state, or `undefined` when `signal` aborted the wait
 */
export async function followPeer(
  peer: Peer,
  decide: StateDecision,
  options: FollowOptions,
): Promise<XenbusState | undefined> {
  const { client } = peer;
  let wake: () => void = () => {};
  let changed = true;
  let released = true;
  let lost: Error | undefined;
  const kick = (): void => {
    changed = true;
    wake();
  };
  const watches: Watch[] = [];
  const register = async (path: string, onEvent: () => void): Promise<void> => {
    const watch = await client.watch(path);
    watches.push(watch);
    watch.on('event', onEvent);
    watch.on('close', (error) => {
      if (!error) return;
      lost = error;
      wake();
    });
  };
  let timer: ReturnType<typeof setTimeout> | undefined;
  let timedOut = false;
  const onAbort = (): void => wake();
  try {
    await register(peer.path, kick);
    await register('@releaseDomain', () => {
      released = true;
      kick();
    });
    if (options.timeoutMs !== undefined) {
      timer = setTimeout(() => {
        timedOut = true;
        wake();
      }, options.timeoutMs);
    }
    options.signal?.addEventListener('abort', onAbort);
    for (;;) {
      if (options.signal?.aborted) return undefined;
      if (lost) throw new XenbusError('ECONNRESET', `xenstore connection lost`, { cause: lost });
      if (timedOut) {
        throw new XenbusError(
          'ETIMEDOUT',
          `${options.what}: domain ${peer.domid} did not get there in ${options.timeoutMs} ms`,
        );
      }
      if (changed) {
        changed = false;
        const state = await readState(client, `${peer.path}/state`);
        // Ask about the domain only when xenstore hints it may be gone: a release, or its node.
        if (
          (released || state === undefined) &&
          (await peer.platform.domainAlive(peer.domid)) === false
        ) {
          throw new XenbusError('ESRCH', `${options.what}: domain ${peer.domid} is gone`);
        }
        released = false;
        const verdict = decide(state);
        if (verdict instanceof XenbusError) throw verdict;
        if (verdict) return state;
        continue;
      }
      await new Promise<void>((resolve) => {
        wake = resolve;
      });
    }
  } finally {
    clearTimeout(timer);
    options.signal?.removeEventListener('abort', onAbort);
    await Promise.allSettled(watches.map((watch) => watch.close()));
  }
}

/** A `state` node's value; `undefined` when absent. */
export async function readState(
  client: XenstoreClient,
  path: string,
): Promise<XenbusState | undefined> {
  const text = await readKeyIfPresent(client, path);
  return text === undefined ? undefined : parseXenbusState(text, path);
}

/**
 * The error for a peer state the handshake did not expect at this point: `ECONNRESET` when the
 * peer is closing or closed, `EPROTO` for anything else out of order.
 */
export function unexpectedState(
  who: string,
  state: XenbusState | undefined,
  during: string,
): XenbusError {
  const closing = state === XenbusState.Closing || state === XenbusState.Closed;
  return new XenbusError(
    closing ? 'ECONNRESET' : 'EPROTO',
    `${who} went to ${xenbusStateName(state)} ${during}`,
  );
}
