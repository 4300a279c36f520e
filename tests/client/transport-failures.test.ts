import { expect, it } from 'vitest';
import { XenstoreClient } from '../../src/xenstore/client.ts';
import type { TransportConnector } from '../../src/xenstore/transport/transport.ts';

it('treats a transport whose send throws as a lost connection, reported once', async () => {
  let opened = 0;
  const connector: TransportConnector = async (handlers) => {
    opened++;
    let closed = false;
    return {
      send() {
        throw new Error('medium gone');
      },
      close() {
        if (closed) return;
        closed = true;
        handlers.onClose();
      },
    };
  };
  const xs = await XenstoreClient.connect({ transport: connector });
  const closes: (Error | undefined)[] = [];
  xs.on('close', (error) => closes.push(error));
  await expect(xs.read('/a')).rejects.toMatchObject({ code: 'ECONNRESET', op: 'READ' });
  expect(closes).toHaveLength(1);
  expect(closes[0]?.message).toMatch(/medium gone/);
  expect(xs.open).toBe(false);
  expect(opened).toBe(1);
});

it('reconnects once per loss when a send fails, and sends later requests on the new connection', async () => {
  const sent: number[] = [];
  let opened = 0;
  const connector: TransportConnector = async (handlers) => {
    const generation = ++opened;
    return {
      send(message) {
        if (generation === 1) throw new Error('medium gone');
        sent.push(message.type);
        queueMicrotask(() => handlers.onMessage({ ...message, payload: Buffer.from('fine') }));
      },
      close() {
        handlers.onClose();
      },
    };
  };
  const xs = await XenstoreClient.connect({ transport: connector, reconnect: { initialDelay: 1 } });
  const reconnects: unknown[] = [];
  xs.on('reconnect', (info) => reconnects.push(info));
  await expect(xs.read('/a')).rejects.toMatchObject({ code: 'ECONNRESET' });
  expect((await xs.read('/b')).toString()).toBe('fine');
  expect(opened).toBe(2);
  expect(reconnects).toEqual([{ lostTransactions: 0, watches: 0 }]);
  await xs.close();
});
