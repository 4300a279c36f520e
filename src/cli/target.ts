import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { XenstoreClient } from '../xenstore/client.ts';
import { dom0Tree, socketListener, XenstoreServer } from '../xenstore/server.ts';

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
  if (options.mock) return openMock();
  const client = await XenstoreClient.connect(
    options.env === process.env ? {} : { socketPath: daemonSocketPath(options.env) },
  );
  return { client, close: () => client.close() };
}

/** A fresh in-memory xenstored on a private socket, so the client talks to it as to a daemon. */
async function openMock(): Promise<Target> {
  const dir = await mkdtemp(join(tmpdir(), 'xenwire-mock-'));
  const server = new XenstoreServer({ seed: { nodes: dom0Tree() } });
  const listener = await socketListener(server, { path: join(dir, 'xenstored.sock') });
  const client = await XenstoreClient.connect({ socketPath: join(dir, 'xenstored.sock') });
  return {
    client,
    async close() {
      await client.close();
      await listener.close();
      server.close();
      await rm(dir, { recursive: true, force: true });
    },
  };
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
