import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { type ConformanceTarget, socketTemplateGuests } from '../../src/conformance/index.ts';
import { socketConnector } from '../../src/xenstore/index.ts';
import { type Served, type ServeOptions, serve } from '../../src/xenstore/server.ts';

/** The in-memory xenstored in 4.17 mode on sockets, guests 1-3 on their own sockets. */
export interface MockServer {
  readonly served: Served;
  readonly dir: string;
  readonly target: ConformanceTarget;
  stop(): Promise<void>;
}

export async function startMock(options: Pick<ServeOptions, 'quotas'> = {}): Promise<MockServer> {
  const dir = await mkdtemp(join(tmpdir(), 'xenwire-conformance-'));
  const served = await serve({
    socketPath: join(dir, 'socket'),
    seed: { nodes: [] },
    guestDomains: [1, 2, 3],
    guestSocketDir: dir,
    version: '4.17',
    ...options,
  });
  return {
    served,
    dir,
    target: {
      dom0: socketConnector(served.socketPath),
      guests: socketTemplateGuests(join(dir, 'dom{domid}.sock')),
      replyTimeoutMs: 1000,
    },
    async stop() {
      await served.close();
      await rm(dir, { recursive: true, force: true });
    },
  };
}
