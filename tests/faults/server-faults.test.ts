import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { inProcessConnector, XenstoreClient } from '../../src/xenstore/index.ts';
import {
  FaultSpecError,
  serve,
  type TraceRecord,
  XenstoreServer,
} from '../../src/xenstore/server.ts';

let dir: string;
beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), 'xenwire-faults-'));
});
afterEach(async () => {
  await rm(dir, { recursive: true, force: true });
});

const faultsOf = (records: TraceRecord[]) =>
  records.filter((r) => r.direction === 'fault').map((r) => r.fault!);

describe('XenstoreServer faults', () => {
  it('answers requests by operation and path with the injected error, and traces it', async () => {
    const records: TraceRecord[] = [];
    const server = new XenstoreServer({
      faults: { seed: 1, inject: ['WRITE:/vm/*/state:EACCES', 'READ:/vm:ENOENT:0'] },
      trace: (record) => records.push(record),
    });
    await using xs = await XenstoreClient.connect({ transport: inProcessConnector(server) });
    await xs.write('/vm/a/name', 'a');
    await expect(xs.write('/vm/a/state', 'up')).rejects.toMatchObject({ code: 'EACCES' });
    await expect(xs.write('/vm/a/state/sub', 'up')).rejects.toMatchObject({ code: 'EACCES' });
    expect(await xs.readString('/vm/a/name')).toBe('a');
    // Never reached the store.
    expect(server.store.get('/vm/a/state')).toBeUndefined();
    expect(faultsOf(records)).toEqual([
      expect.objectContaining({ fault: 'inject', type: 'WRITE', error: 'EACCES', n: 2 }),
      expect.objectContaining({ fault: 'inject', type: 'WRITE', error: 'EACCES', n: 3 }),
    ]);
  });

  it('fails commits with EAGAIN without committing them; a retrying client gets there', async () => {
    const records: TraceRecord[] = [];
    const server = new XenstoreServer({
      faults: { seed: 7, inject: 'TRANSACTION_END:*:EAGAIN:0.5' },
      trace: (record) => records.push(record),
    });
    await using xs = await XenstoreClient.connect({ transport: inProcessConnector(server) });
    await xs.write('/counter', '0');
    for (let i = 0; i < 10; i++) {
      await xs.transaction(async (tx) => {
        const n = Number(await tx.readString('/counter'));
        await tx.write('/counter', String(n + 1));
      });
    }
    expect(await xs.readString('/counter')).toBe('10');
    const injected = faultsOf(records).filter((f) => f.fault === 'inject');
    expect(injected.length).toBeGreaterThan(0);
    expect(injected.every((f) => f.sent === 'abort')).toBe(true);
  });

  it('refuses a bad spec with a typed EINVAL', () => {
    expect(() => new XenstoreServer({ faults: { inject: 'WRITE:/x:ENOPE' } })).toThrow(
      FaultSpecError,
    );
    expect(() => new XenstoreServer({ faults: { stall: 'often' } })).toThrow(
      expect.objectContaining({ code: 'EINVAL', option: 'stall', part: 'often' }),
    );
  });

  it('splits replies on a socket into chunks the client reassembles', async () => {
    const records: TraceRecord[] = [];
    const served = await serve({
      socketPath: join(dir, 'socket'),
      faults: { seed: 3, split: '1-5', delay: '0-2' },
      trace: (record) => records.push(record),
    });
    try {
      await using xs = await XenstoreClient.connect({ socketPath: served.socketPath });
      await xs.write('/vm/x', 'a value');
      const watch = await xs.watch('/vm');
      expect((await watch[Symbol.asyncIterator]().next()).value).toMatchObject({ path: '/vm' });
      expect(await xs.readString('/vm/x')).toBe('a value');
      const splits = faultsOf(records).filter((f) => f.fault === 'split');
      expect(splits.length).toBeGreaterThanOrEqual(4);
      expect(splits.flatMap((f) => f.chunks!).every((size) => size <= 5)).toBe(true);
    } finally {
      await served.close();
    }
  });

  it('drops a connection after N requests', async () => {
    const server = new XenstoreServer({ faults: { seed: 1, dropAfter: 2 } });
    const xs = await XenstoreClient.connect({
      transport: inProcessConnector(server),
      reconnect: false,
    });
    await xs.write('/a', '1');
    await xs.write('/b', '2');
    await expect(xs.read('/a')).rejects.toMatchObject({ code: 'ECONNRESET' });
    expect(server.connectionCount).toBe(0);
    await xs.close();
  });
});
