import { prerequisite, Unavailable } from './unavailable.ts';

/** A xenstore daemon serving a unix socket for one pair. */
export interface XenstoreDaemon {
  readonly socketPath: string;
  stop(): Promise<void>;
}

/**
 * Starts a private C xenstored (Xen 4.17 under the harness's LD_PRELOAD shim). The harness
 * helper fetches the packages and builds the shim when first imported, so it is imported here,
 * lazily, rather than by every bench file that is merely discovered.
 */
export async function startCXenstored(): Promise<XenstoreDaemon> {
  const support = await prerequisite(
    'the C xenstored harness',
    () => import('../../tests/support/real-xenstored.ts'),
  );
  const install = support.xenInstall;
  if (!install) throw new Unavailable('the C xenstored: Xen packages or shim unavailable');
  const daemon = await prerequisite('the C xenstored', () => support.startRealXenstored(install));
  return { socketPath: daemon.socketPath, stop: () => daemon.stop() };
}
