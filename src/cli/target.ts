import { join } from 'node:path';
import { XenstoreClient } from '../xenstore/client.ts';

/** Where a command's requests go. */
export interface TargetOptions {
  /** Talk to an embedded in-memory xenstored (seeded like `npm start`) instead of a daemon. */
  readonly mock?: boolean;
  readonly env: NodeJS.ProcessEnv;
}

/** A connected client, and how to let go of it (and of the embedded server, if any). */
export interface Target {
  readonly client: XenstoreClient;
  close(): Promise<void>;
}

/**
 * The daemon socket libxenstore would use: `XENSTORED_PATH`, else `socket` in
 * `XENSTORED_RUNDIR`, else in `/var/run/xenstored`.
 */
export function daemonSocketPath(env: NodeJS.ProcessEnv): string {
  return env.XENSTORED_PATH || join(env.XENSTORED_RUNDIR || '/var/run/xenstored', 'socket');
}

/**
 * Connects as dom0. The process's own environment gets the client's full discovery (socket, else
 * `/dev/xen/xenbus`); another environment (tests running commands in-process) names a socket.
 */
export async function openTarget(options: TargetOptions): Promise<Target> {
  // The server's code is loaded only here: a call on the daemon does not pay for it.
  if (options.mock) return (await import('./mock-target.ts')).openMock();
  const client = await XenstoreClient.connect(
    options.env === process.env ? {} : { socketPath: daemonSocketPath(options.env) },
  );
  return { client, close: () => client.close() };
}

/** The errno name of a failed request, for `err()`-style messages. */
export function errorCode(error: unknown): string {
  const code = (error as { code?: unknown } | undefined)?.code;
  return typeof code === 'string' ? code : 'EIO';
}

/**
 * The errno name of a failed connection as the system gave it: the client's error carries the
 * system error as its cause when there is one; without one, neither socket nor device exists,
 * which libxenstore reports as ENOENT.
 */
export function connectErrorCode(error: unknown): string {
  const cause = (error as { cause?: unknown } | undefined)?.cause;
  return cause === undefined ? 'ENOENT' : errorCode(cause);
}
