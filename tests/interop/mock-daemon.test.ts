import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { socketListener, XenstoreServer } from '../../src/xenstore/server.ts';
import { describeClientInterop } from './client-interop-suite.ts';

describeClientInterop('the in-memory xenstored', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'xenwire-mock-'));
  const server = new XenstoreServer({ version: '4.17' });
  const listener = await socketListener(server, { path: join(dir, 'socket') });
  return {
    socketPath: listener.path,
    async stop() {
      await listener.close();
      server.close();
      await rm(dir, { recursive: true, force: true });
    },
  };
});
