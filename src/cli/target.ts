import { join } from 'node:path';
import { dom0Tree, XenstoreServer } from '../xenstore/server/index.ts';
import { serverLink, socketLink, XsSession } from './session.ts';

/** Where a command's requests go. */
export interface TargetOptions {
  /** Talk to an embedded in-memory xenstored (seeded like `npm start`) instead of a daemon. */
  readonly mock?: boolean;
  readonly env: NodeJS.ProcessEnv;
}

/**
 * The daemon socket libxenstore would use: `XENSTORED_PATH`, else `socket` in
 * `XENSTORED_RUNDIR`, else in `/var/run/xenstored`.
 */
export function daemonSocketPath(env: NodeJS.ProcessEnv): string {
  return env.XENSTORED_PATH || join(env.XENSTORED_RUNDIR || '/var/run/xenstored', 'socket');
}

/** Connects as dom0; rejects with the system error of the connection attempt. */
export function openTarget(options: TargetOptions): Promise<XsSession> {
  if (options.mock) {
    const server = new XenstoreServer({ seed: { nodes: dom0Tree() } });
    return XsSession.open(serverLink(server), () => server.close());
  }
  return XsSession.open(socketLink(daemonSocketPath(options.env)));
}

/** The errno name of a failed connection or request, for `err()`-style messages. */
export function errorCode(error: unknown): string {
  const code = (error as { code?: unknown } | undefined)?.code;
  return typeof code === 'string' ? code : 'EIO';
}
