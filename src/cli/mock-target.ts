import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { XenstoreClient } from '../xenstore/client.ts';
import { dom0Tree } from '../xenstore/server/dom0-tree.ts';
import { XenstoreServer } from '../xenstore/server/server.ts';
import { socketListener } from '../xenstore/transport/socket-listener.ts';
import type { Target } from './target.ts';

/**
 * `--mock`: a fresh in-memory xenstored with a Domain-0 tree on a private socket, so that the
 * client talks to it as to a daemon. Loaded only for `--mock`.
 */
export async function openMock(): Promise<Target> {
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
