import type { XenstoreClient } from '../xenstore/index.ts';
import type { DevicePlatform } from './platform.ts';

/**
 * Calls `onGone` once `domid` is gone: each `@releaseDomain` (and the watch's first firing)
 * asks the platform, which answers only where this domain may know (dom0, the simulation).
 * For ends whose peer may die with its whole domain, which then runs none of its own clean-up.
 * Resolves with the function that stops watching.
 */
export async function watchDomainDeath(
  client: XenstoreClient,
  platform: DevicePlatform,
  domid: number,
  onGone: () => void,
): Promise<() => Promise<void>> {
  const watch = await client.watch('@releaseDomain');
  let stopped = false;
  watch.on('event', () => {
    platform.domainAlive(domid).then(
      (alive) => {
        if (alive === false && !stopped) {
          stopped = true;
          onGone();
        }
      },
      // Not knowing is no news: the live byte still tells of the peer's close.
      () => {},
    );
  });
  return async () => {
    stopped = true;
    await watch.close().catch(() => {});
  };
}
