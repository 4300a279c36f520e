import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import type { BusyPoll } from '../../src/event-loop/busy-poller.ts';
import { XenstoreClient } from '../../src/xenstore/client.ts';
import { XenstoreServer } from '../../src/xenstore/server/server.ts';
import { socketListener } from '../../src/xenstore/transport/socket-listener.ts';

/**
 * Turns of the event loop asked for from JavaScript (a spin, a pass of the server) since the last
 * call. Node's own immediates (e.g. finalizers after a garbage collection) are not counted.
 */
const setImmediateSpy = vi.spyOn(globalThis, 'setImmediate');
const turnsAsked = () => {
  const asked = setImmediateSpy.mock.calls.length;
  setImmediateSpy.mockClear();
  return asked;
};

let dir: string;
beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'xenwire-busy-poll-'));
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

// Both ends over a real unix socket, so that waits are real: the spin must never change what is
// answered, and must end once nothing is awaited.
describe.each<BusyPoll>([true, false, 'adaptive'])('busyPoll: %s on both ends', (mode) => {
  it('answers one-at-a-time and pipelined requests alike, and goes quiet when idle', async () => {
    const server = new XenstoreServer();
    const listener = await socketListener(server, {
      path: join(dir, `${mode}.sock`),
      busyPoll: mode,
    });
    const client = await XenstoreClient.connect({ socketPath: listener.path, busyPoll: mode });
    try {
      const written = new Map<string, string>();
      for (let i = 0; i < 300; i++) {
        written.set(`/t/n${i % 7}`, `v${i}`);
        await client.write(`/t/n${i % 7}`, `v${i}`);
        expect(await client.readString(`/t/n${i % 7}`)).toBe(`v${i}`);
      }
      const many = await Promise.all(
        Array.from({ length: 64 }, (_, i) => client.readString(`/t/n${i % 7}`)),
      );
      expect(many).toEqual(Array.from({ length: 64 }, (_, i) => written.get(`/t/n${i % 7}`)));
      await sleep(10);
      expect(client.pendingRequests).toBe(0);
      turnsAsked();
      await sleep(10);
      expect(turnsAsked()).toBe(0);
    } finally {
      await client.close();
      await listener.close();
    }
  });
});

describe('the default busyPoll', () => {
  it('never spins, at either end: the loop sleeps while a reply or the next request is due', async () => {
    const server = new XenstoreServer();
    const listener = await socketListener(server, { path: join(dir, 'default.sock') });
    const client = await XenstoreClient.connect({ socketPath: listener.path });
    turnsAsked();
    try {
      for (let i = 0; i < 50; i++) {
        const reply = client.write(`/d/n${i}`, 'v');
        // A spinning client would have queued its first turn by now.
        expect(turnsAsked()).toBe(0);
        await reply;
        // A spinning listener would be turning, awaiting this client's next request.
        expect(turnsAsked()).toBe(0);
      }
    } finally {
      await client.close();
      await listener.close();
    }
  });
});
