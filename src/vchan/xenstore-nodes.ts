import type { DevicePlatform } from '../xenbus/index.ts';
import { isXenstoreError, type Permission, type XenstoreClient } from '../xenstore/index.ts';
import { VchanError } from './errors.ts';

/** What a server publishes for its client. */
export interface ServerNodes {
  /** Grant reference of the shared page. */
  readonly ringRef: number;
  /** The server's unbound port, offered to the client's domain. */
  readonly port: number;
}

/**
 * Writes `ring-ref` and `event-channel` under `path` in one transaction, each owned by
 * `owner` with no access for others but read access for `peer`, as `init_xs_srv` does. The
 * directories above are created as xenstored creates parents: inheriting their parent's
 * permissions.
 */
export async function publishServerNodes(
  client: XenstoreClient,
  path: string,
  nodes: ServerNodes,
  owner: number,
  peer: number,
): Promise<void> {
  const permissions: Permission[] = [
    { access: 'n', domid: owner },
    { access: 'r', domid: peer },
  ];
  await client.transaction(async (tx) => {
    for (const [key, value] of [
      ['ring-ref', nodes.ringRef],
      ['event-channel', nodes.port],
    ] as const) {
      await tx.write(`${path}/${key}`, String(value));
      await tx.setPermissions(`${path}/${key}`, permissions);
    }
  });
}

async function readNumber(client: XenstoreClient, path: string): Promise<number> {
  const text = await client.readString(path);
  // libxenvchan takes atoi() of the value and refuses 0; we refuse anything but a number.
  const value = /^\d+$/.test(text) ? Number(text) : Number.NaN;
  if (!(value > 0 && value <= 0xffffffff)) {
    throw new VchanError('EPROTO', `vchan: ${path} is ${JSON.stringify(text)}, not a number`);
  }
  return value;
}

/**
 * Reads a server's nodes once.
 * @throws VchanError `ENOENT` when they are not there (yet): xenstored answers a guest's read of
 *   a missing node in another domain's directory with `EACCES`, so that counts as absent too
 */
async function readServerNodes(client: XenstoreClient, path: string): Promise<ServerNodes> {
  try {
    return {
      ringRef: await readNumber(client, `${path}/ring-ref`),
      port: await readNumber(client, `${path}/event-channel`),
    };
  } catch (error) {
    if (isXenstoreError(error, 'ENOENT') || isXenstoreError(error, 'EACCES')) {
      throw new VchanError('ENOENT', `vchan: no server at ${path}`, { cause: error });
    }
    throw error;
  }
}

/**
 * Reads a server's nodes; with `timeoutMs` above 0, waits for them as `vchan-socket-proxy`
 * does: a watch on `path` and one on `@releaseDomain`, giving up when the server's domain is
 * gone (`ESRCH`) or the time is up (`ETIMEDOUT`).
 */
export async function awaitServerNodes(
  client: XenstoreClient,
  platform: DevicePlatform,
  serverDomid: number,
  path: string,
  timeoutMs: number,
): Promise<ServerNodes> {
  if (timeoutMs <= 0) return readServerNodes(client, path);
  const watches = await Promise.all([client.watch(path), client.watch('@releaseDomain')]);
  let wake = (): void => {};
  let fired = true;
  for (const watch of watches) {
    watch.on('event', () => {
      fired = true;
      wake();
    });
  }
  let timedOut = false;
  const timer = setTimeout(() => {
    timedOut = true;
    wake();
  }, timeoutMs);
  try {
    for (;;) {
      if (timedOut) {
        throw new VchanError('ETIMEDOUT', `vchan: no server at ${path} within ${timeoutMs} ms`);
      }
      if (fired) {
        fired = false;
        try {
          return await readServerNodes(client, path);
        } catch (error) {
          if (!(error instanceof VchanError && error.code === 'ENOENT')) throw error;
        }
        if ((await platform.domainAlive(serverDomid)) === false) {
          throw new VchanError('ESRCH', `vchan: the server's domain ${serverDomid} is gone`);
        }
        continue;
      }
      await new Promise<void>((resolve) => {
        wake = resolve;
      });
    }
  } finally {
    clearTimeout(timer);
    await Promise.allSettled(watches.map((watch) => watch.close()));
  }
}
