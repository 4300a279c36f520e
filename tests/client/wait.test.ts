import { describe, expect, it } from 'vitest';
import { XenstoreClient } from '../../src/xenstore/client.ts';
import { XenstorePool } from '../../src/xenstore/pool.ts';
import { XenstoreServer } from '../../src/xenstore/server.ts';
import { inProcessConnector } from '../../src/xenstore/transport/in-process.ts';
import { rejection, until } from './expectations.ts';

/** A fresh in-memory xenstored and a client of it. */
async function connected() {
  const server = new XenstoreServer();
  const xs = await XenstoreClient.connect({ transport: inProcessConnector(server) });
  return { server, xs };
}

describe('wait', () => {
  it('ends with ECONNRESET when the client closes, and leaves no watch behind', async () => {
    const { server, xs } = await connected();
    let checks = 0;
    const waiting = xs.wait('/never', (value) => {
      checks++;
      return value !== undefined;
    });
    // Watched and read once (at the registration event), found wanting.
    await until(() => checks === 1);
    await xs.close();
    const error = await rejection(waiting);
    expect([error.code, error.path]).toEqual(['ECONNRESET', '/never']);
    server.close();
  });

  it('throws what the condition throws, and unwatches', async () => {
    const { server, xs } = await connected();
    await xs.write('/x', 'value');
    const failure = new Error('bad condition');
    await expect(
      xs.wait('/x', () => {
        throw failure;
      }),
    ).rejects.toBe(failure);
    // The watch is gone: a change now reaches nobody, so the client reports nothing stray.
    const stray: Error[] = [];
    xs.on('diagnostic', (error) => stray.push(error));
    await xs.write('/x', 'changed');
    await xs.readString('/x');
    expect(stray).toEqual([]);
    await xs.close();
    server.close();
  });

  it('works through a pool, whose reads and watch go to different members', async () => {
    const server = new XenstoreServer();
    await using pool = await XenstorePool.connect({
      transport: inProcessConnector(server),
      size: 3,
    });
    const state = pool.wait('/backend/state', '4');
    for (const value of ['1', '2', '3', '4']) await pool.write('/backend/state', value);
    expect((await state)?.toString()).toBe('4');
    expect(await pool.readString('/backend/missing', { default: 'none' })).toBe('none');
    server.close();
  });

  it('gives an aborted request the name AbortError', async () => {
    const { server, xs } = await connected();
    const controller = new AbortController();
    const reading = xs.read('/x', { signal: controller.signal });
    controller.abort();
    const error = await rejection(reading);
    expect([error.name, error.code, error.op]).toEqual(['AbortError', 'ABORT_ERR', 'READ']);
    await xs.close();
    server.close();
  });
});
