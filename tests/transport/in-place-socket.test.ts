import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Worker } from 'node:worker_threads';
import { afterAll, afterEach, beforeAll, describe, expect, it, vi } from 'vitest';
import { isNativeAvailable } from '../../src/device/index.ts';
import { nativeAddonReady } from '../support/requirements.ts';

/**
 * Waiting in place on a real unix socket, against a peer in a worker thread of its own
 * (`support/scripted-peer.mjs`) that answers while this thread is blocked. The thread's in-place
 * state (runs, misses, pauses) and the addon's loading are module state, so each test imports
 * the client afresh.
 */
const withAddon = nativeAddonReady();

interface Plan {
  readonly events?: number;
  readonly cuts?: readonly number[];
  readonly delays?: readonly number[];
  readonly drop?: boolean;
}

let dir: string;
let peers = 0;
const workers: Worker[] = [];
beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'xenwire-in-place-'));
});
afterEach(async () => {
  vi.restoreAllMocks();
  vi.unstubAllEnvs();
  await Promise.all(workers.splice(0).map((worker) => worker.terminate()));
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

/** A scripted peer; `plan` queues how the next requests are answered (default: at once). */
async function startPeer(): Promise<{ path: string; plan(...plans: Plan[]): void }> {
  const path = join(dir, `peer-${++peers}.sock`);
  const worker = new Worker(new URL('./support/scripted-peer.mjs', import.meta.url), {
    workerData: { path },
  });
  workers.push(worker);
  await new Promise<void>((resolve, reject) => {
    worker.once('message', () => resolve());
    worker.once('error', reject);
  });
  return {
    path,
    plan: (...plans) => {
      for (const plan of plans) worker.postMessage(plan);
    },
  };
}

/** In-place budget for tests that assert an answer came in place: a loaded machine may take
 * longer than the real budget to schedule the peer. */
const SURE_BUDGET_US = 50_000;

/**
 * The client and the addon as a fresh thread would load them (with `budgetUs` in place of the
 * in-place budget when given), and a record of the in-place calls.
 */
async function fresh(options: { budgetUs?: number; addon?: boolean } = {}) {
  vi.resetModules();
  vi.doUnmock('../../src/event-loop/in-place-wait.ts');
  if (options.budgetUs !== undefined) {
    const budget = options.budgetUs;
    vi.doMock('../../src/event-loop/in-place-wait.ts', async (original) => ({
      ...(await original<typeof import('../../src/event-loop/in-place-wait.ts')>()),
      IN_PLACE_BUDGET_US: budget,
    }));
  }
  const { XenstoreClient } = await import('../../src/xenstore/client.ts');
  const addon = options.addon ?? withAddon;
  const native = addon ? (await import('../../src/device/native.ts')).loadNative() : undefined;
  const reads: number[] = [];
  const writes: number[] = [];
  if (native) {
    const read = native.streamReadWithin.bind(native);
    const write = native.streamWriteNow.bind(native);
    vi.spyOn(native, 'streamReadWithin').mockImplementation((fd, buffer, budget) => {
      const size = read(fd, buffer, budget);
      reads.push(size);
      return size;
    });
    vi.spyOn(native, 'streamWriteNow').mockImplementation((fd, bytes) => {
      const written = write(fd, bytes);
      writes.push(written);
      return written;
    });
  }
  return { XenstoreClient, reads, writes };
}

const turn = () => new Promise((resolve) => setImmediate(resolve));

/**
 * Whether `promise` settles before the event loop turns: with only the current tick's queued
 * work run (the request leaves at the end of its tick) and the microtasks after it.
 */
async function settledInPlace(promise: Promise<unknown>): Promise<boolean> {
  let settled = false;
  void promise.then(
    () => {
      settled = true;
    },
    () => {
      settled = true;
    },
  );
  await new Promise((resolve) => process.nextTick(resolve));
  for (let i = 0; i < 5; i++) await Promise.resolve();
  return settled;
}

describe.runIf(withAddon)('waiting in place on a unix socket', () => {
  it('answers each one-at-a-time request in the call that sent it, without a turn of the loop', async () => {
    const { XenstoreClient, reads, writes } = await fresh({ budgetUs: SURE_BUDGET_US });
    const peer = await startPeer();
    const client = await XenstoreClient.connect({ socketPath: peer.path });
    try {
      for (let i = 0; i < 50; i++) {
        // A turn of the loop between requests, so that none is held back for the loop's sake.
        await turn();
        peer.plan({});
        const reply = client.readString(`/n/${i}`);
        expect(await settledInPlace(reply)).toBe(true);
        expect(await reply).toBe(`value of /n/${i}`);
      }
      expect(writes.length).toBeGreaterThanOrEqual(50);
      expect(reads.filter((size) => size > 0).length).toBeGreaterThanOrEqual(50);
    } finally {
      await client.close();
    }
  });

  it('hands on a watch event that came with the reply, before it', async () => {
    const { XenstoreClient } = await fresh({ budgetUs: SURE_BUDGET_US });
    const peer = await startPeer();
    const client = await XenstoreClient.connect({ socketPath: peer.path });
    try {
      peer.plan({});
      const watch = await client.watch('/event');
      const events = watch[Symbol.asyncIterator]();
      await turn();
      peer.plan({ events: 2 });
      const reply = client.readString('/a');
      expect(await settledInPlace(reply)).toBe(true);
      expect(await reply).toBe('value of /a');
      expect((await events.next()).value?.path).toBe('/event/1');
      expect((await events.next()).value?.path).toBe('/event/2');
    } finally {
      await client.close();
    }
  });

  it.each([1, 15, 16, 20])(
    'loses and repeats nothing of a reply cut at byte %i whose rest comes too late to wait for',
    async (cut) => {
      const { XenstoreClient, reads } = await fresh({ budgetUs: 20_000 });
      const peer = await startPeer();
      const client = await XenstoreClient.connect({ socketPath: peer.path });
      try {
        peer.plan({ cuts: [cut], delays: [0, 300] });
        const reply = client.readString('/late');
        expect(await reply).toBe('value of /late');
        // The first part was read in place, the rest by the event loop.
        expect(reads[0]).toBe(cut);
        expect(reads.slice(1).every((size) => size === 0)).toBe(true);
        peer.plan({});
        expect(await client.readString('/after')).toBe('value of /after');
      } finally {
        await client.close();
      }
    },
  );

  it('gives a late answer to the ordinary path, and stops waiting in place for a peer that keeps missing', async () => {
    const { XenstoreClient, reads } = await fresh({ budgetUs: 1000 });
    const peer = await startPeer();
    const client = await XenstoreClient.connect({ socketPath: peer.path });
    try {
      peer.plan({ delays: [50] }, { delays: [50] }, {});
      expect(await client.readString('/slow/1')).toBe('value of /slow/1');
      expect(await client.readString('/slow/2')).toBe('value of /slow/2');
      expect(reads).toEqual([0, 0]);
      // Two misses in a row: the next request is not waited for in place.
      const reply = client.readString('/slow/3');
      expect(await settledInPlace(reply)).toBe(false);
      expect(await reply).toBe('value of /slow/3');
      expect(reads).toEqual([0, 0]);
    } finally {
      await client.close();
    }
  });

  it('lets a request the peer never answers time out the ordinary way', async () => {
    const { XenstoreClient } = await fresh();
    const peer = await startPeer();
    const client = await XenstoreClient.connect({ socketPath: peer.path });
    try {
      peer.plan({ drop: true });
      await expect(client.read('/never', { timeout: 50 })).rejects.toMatchObject({
        code: 'ETIMEDOUT',
      });
      peer.plan({});
      expect(await client.readString('/next')).toBe('value of /next');
    } finally {
      await client.close();
    }
  });

  it('waits in place only for the one answer awaited in the thread', async () => {
    const { XenstoreClient, writes } = await fresh();
    const peer = await startPeer();
    const first = await XenstoreClient.connect({ socketPath: peer.path });
    const second = await XenstoreClient.connect({ socketPath: peer.path });
    try {
      // The first connection's request goes unanswered for a while: the second's is not alone.
      peer.plan({ drop: true });
      const stuck = first.read('/stuck', { timeout: 200 }).catch((error: unknown) => error);
      const before = writes.length;
      peer.plan({});
      const reply = second.readString('/other');
      expect(await settledInPlace(reply)).toBe(false);
      expect(await reply).toBe('value of /other');
      expect(writes.length).toBe(before);
      expect(await stuck).toMatchObject({ code: 'ETIMEDOUT' });
    } finally {
      await first.close();
      await second.close();
    }
  });

  it('keeps timers running during a long loop of requests answered in place', async () => {
    const { XenstoreClient, reads } = await fresh({ budgetUs: 5000 });
    const peer = await startPeer();
    const client = await XenstoreClient.connect({ socketPath: peer.path });
    const ticks: number[] = [];
    const timer = setInterval(() => ticks.push(performance.now()), 1);
    try {
      const start = performance.now();
      let count = 0;
      while (performance.now() - start < 300) {
        peer.plan({});
        await client.read('/loop');
        count++;
      }
      const gaps = ticks.slice(1).map((at, i) => at - ticks[i]!);
      // Blocked for the whole loop, the timer would not have fired at all.
      expect(ticks.length).toBeGreaterThan(10);
      expect(Math.max(...gaps)).toBeLessThan(50);
      expect(reads.filter((size) => size > 0).length).toBeGreaterThan(count / 2);
    } finally {
      clearInterval(timer);
      await client.close();
    }
  });

  it('never waits in place while a server listens in the same thread', async () => {
    const { XenstoreClient, writes } = await fresh();
    const { XenstoreServer } = await import('../../src/xenstore/server/server.ts');
    const { socketListener } = await import('../../src/xenstore/transport/socket-listener.ts');
    const listener = await socketListener(new XenstoreServer(), { path: join(dir, 'own.sock') });
    const client = await XenstoreClient.connect({ socketPath: listener.path });
    try {
      for (let i = 0; i < 10; i++) await client.write(`/own/${i}`, 'v');
      expect(await client.readString('/own/3')).toBe('v');
      expect(writes).toEqual([]);
    } finally {
      await client.close();
      await listener.close();
    }
    // Closed, it holds nothing back.
    const peer = await startPeer();
    const other = await XenstoreClient.connect({ socketPath: peer.path });
    try {
      peer.plan({});
      await other.read('/x');
      expect(writes.length).toBe(1);
    } finally {
      await other.close();
    }
  });

  it('sends requests made in the same tick together, the ordinary way', async () => {
    const { XenstoreClient, writes } = await fresh();
    const peer = await startPeer();
    const client = await XenstoreClient.connect({ socketPath: peer.path });
    try {
      const paths = Array.from({ length: 20 }, (_, i) => `/burst/${i}`);
      peer.plan(...paths.map(() => ({})));
      const replies = await Promise.all(paths.map((path) => client.readString(path)));
      expect(replies).toEqual(paths.map((path) => `value of ${path}`));
      expect(writes).toEqual([]);
    } finally {
      await client.close();
    }
  });

  it('waits the ordinary way when told not to', async () => {
    const { XenstoreClient, writes } = await fresh();
    const peer = await startPeer();
    const client = await XenstoreClient.connect({ socketPath: peer.path, waitInPlace: false });
    try {
      peer.plan({});
      const reply = client.readString('/off');
      expect(await settledInPlace(reply)).toBe(false);
      expect(await reply).toBe('value of /off');
      expect(writes).toEqual([]);
    } finally {
      await client.close();
    }
  });
});

describe('without the addon', () => {
  it('connects and answers through the event loop', async () => {
    vi.stubEnv('XENWIRE_NATIVE_ADDON', join(tmpdir(), 'no-such-addon.node'));
    const { XenstoreClient } = await fresh({ addon: false });
    const { isNativeAvailable: available } = await import('../../src/device/native.ts');
    expect(available()).toBe(false);
    const peer = await startPeer();
    const client = await XenstoreClient.connect({ socketPath: peer.path });
    try {
      for (let i = 0; i < 5; i++) {
        peer.plan({ events: 0 });
        const reply = client.readString(`/plain/${i}`);
        expect(await settledInPlace(reply)).toBe(false);
        expect(await reply).toBe(`value of /plain/${i}`);
      }
    } finally {
      await client.close();
    }
  });

  it.runIf(withAddon)('is not what the other tests ran with', () => {
    expect(isNativeAvailable()).toBe(true);
  });
});
