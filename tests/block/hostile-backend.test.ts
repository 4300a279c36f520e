import { once } from 'node:events';
import { afterEach, describe, expect, it } from 'vitest';
import {
  BLKIF_ABIS,
  type Blkfront,
  BlkifOp,
  type BlkifRequest,
  BlkifStatus,
  decodeBlkifRequest,
  encodeBlkifResponse,
  openBlkfront,
} from '../../src/block/index.ts';
import type { BackRing } from '../../src/ring/index.ts';
import {
  type BackendOptions,
  contiguousPages,
  XenbusBackend,
  XenbusState,
} from '../../src/xenbus/index.ts';
import { type BlockHost, blockHost } from './support/block-host.ts';

/**
 * A backend written by hand, answering as it likes: the frontend must fail typed (its pending
 * operations rejected, `closed` emitted with the reason) and never hang.
 */

const abi = BLKIF_ABIS['x86_64-abi'];
let env: BlockHost;
afterEach(async () => {
  await env?.close();
});

const goodKeys = {
  sectors: '2048',
  info: '0',
  'sector-size': '512',
  'feature-flush-cache': '1',
  'feature-max-indirect-segments': '256',
};

type Answer = (request: BlkifRequest, ring: BackRing) => void;

/** The xenbus end of a hand-written blkif backend in dom0, for the guest's device. */
function handBackend(options: Partial<BackendOptions>) {
  return XenbusBackend.open({
    client: env.host.dom0Client,
    platform: env.dom0,
    type: 'vbd',
    frontendDomid: 1,
    devid: env.id.devid,
    ...options,
  });
}

/** Connects a blkfront to a hand backend answering each request with `answer`. */
async function against(
  answer: Answer,
  keys: Record<string, string> = goodKeys,
  requestTimeoutMs = 5000,
): Promise<{ front: Blkfront; ring: BackRing; kick: () => void }> {
  const backend = (async () => {
    const device = await handBackend({ timeoutMs: 5000 });
    const connection = await device.connect({ connectedKeys: keys });
    const area = contiguousPages(connection.ring);
    const ring = abi.ring.attachBack(area.buffer, {
      byteOffset: area.byteOffset,
      byteLength: area.byteLength,
    });
    const events = env.dom0.eventChannel;
    const kick = () => events.notify(connection.port);
    events.on('pending', (port) => {
      if (port !== connection.port) return;
      events.unmask(port);
      try {
        do {
          for (let r = ring.takeRequest(); r; r = ring.takeRequest()) {
            answer(decodeBlkifRequest(abi, r), ring);
          }
        } while (ring.finalCheckForRequests());
      } catch {
        // Forged indexes confuse this backend too; the frontend's reaction is what is tested.
      }
      if (ring.pushResponses()) kick();
    });
    return { ring, kick };
  })();
  const [front, back] = await Promise.all([
    openBlkfront({
      client: env.host.guest(1).client,
      platform: env.guest,
      devid: env.id.devid,
      timeoutMs: 5000,
      requestTimeoutMs,
    }),
    backend,
  ]);
  return { front, ...back };
}

const respond = (ring: BackRing, id: bigint, op: number, status = 0) =>
  encodeBlkifResponse({ id, op, status }, ring.nextResponse());

describe('blkfront against a hostile backend', () => {
  const cases: [string, Answer][] = [
    ['answers an id never sent', (r, ring) => respond(ring, r.id + 1000n, r.op)],
    ['answers with another operation', (r, ring) => respond(ring, r.id, BlkifOp.discard)],
    // The response to an indirect request carries the operation inside, as Linux's blkback does.
    ['answers an indirect read as indirect', (r, ring) => respond(ring, r.id, r.op)],
  ];
  for (const [what, answer] of cases) {
    it(`fails with EPROTO when the backend ${what}`, async () => {
      env = await blockHost();
      const { front } = await against(answer);
      const closed = once(front, 'closed');
      const length = what.includes('indirect') ? 64 * 1024 : 4096;
      await expect(front.read(0, length)).rejects.toMatchObject({
        name: 'BlockError',
        code: 'EPROTO',
      });
      expect((await closed)[0]).toMatchObject({ code: 'EPROTO' });
      await expect(front.read(0, 512)).rejects.toMatchObject({ code: 'EPROTO' });
    });
  }

  it('fails with EPROTO when the backend answers a request twice', async () => {
    env = await blockHost();
    let seen: BlkifRequest | undefined;
    const { front, ring, kick } = await against((r, back) => {
      seen = r;
      respond(back, r.id, BlkifOp.read);
    });
    await front.read(0, 512);
    const closed = once(front, 'closed');
    // Forge a second response to the same (now finished) request, past what was consumed.
    const slot = ring.slot(ring.rspProdPvt);
    encodeBlkifResponse({ id: seen!.id, op: BlkifOp.read, status: 0 }, slot);
    const header = new Uint32Array(slot.buffer, ring.slot(0).byteOffset - 64, 4);
    Atomics.store(header, 2, ring.rspProdPvt + 1);
    kick();
    expect((await closed)[0]).toMatchObject({ code: 'EPROTO' });
  });

  it('fails with EPROTO when rsp_prod claims more responses than the ring holds', async () => {
    env = await blockHost();
    const { front, ring, kick } = await against(() => {});
    const pending = front.read(0, 512);
    const closed = once(front, 'closed');
    await new Promise((resolve) => setTimeout(resolve, 20));
    const header = new Uint32Array(ring.slot(0).buffer, ring.slot(0).byteOffset - 64, 4);
    Atomics.store(header, 2, 1000);
    kick();
    await expect(pending).rejects.toMatchObject({ code: 'EPROTO' });
    expect((await closed)[0]).toMatchObject({ code: 'EPROTO' });
  });

  it('fails with ETIMEDOUT, without hanging, when the backend never answers', async () => {
    env = await blockHost();
    const { front } = await against(() => {}, goodKeys, 200);
    const closed = once(front, 'closed');
    await expect(front.write(0, new Uint8Array(8192))).rejects.toMatchObject({ code: 'ETIMEDOUT' });
    expect((await closed)[0]).toMatchObject({ code: 'ETIMEDOUT' });
  });

  it('reports the backend’s refusals as EIO and EOPNOTSUPP, and goes on', async () => {
    env = await blockHost();
    const statuses = [BlkifStatus.error, BlkifStatus.notSupported, -7, 0];
    const { front } = await against((r, ring) => {
      const op = 'indirectOp' in r ? r.indirectOp : r.op;
      respond(ring, r.id, op, statuses.shift());
    });
    await expect(front.read(0, 512)).rejects.toMatchObject({ code: 'EIO' });
    await expect(front.flush()).rejects.toMatchObject({ code: 'EOPNOTSUPP' });
    await expect(front.read(0, 512)).rejects.toMatchObject({ code: 'EIO' });
    expect(await front.read(0, 512)).toHaveLength(512);
    await front.close();
  });

  it('refuses a backend advertising a ring order that is not a number, and ends Closed', async () => {
    env = await blockHost();
    const device = await handBackend({ advertise: { 'max-ring-page-order': 'four' } });
    const opening = openBlkfront({
      client: env.host.guest(1).client,
      platform: env.guest,
      devid: env.id.devid,
      timeoutMs: 5000,
    });
    await expect(opening).rejects.toMatchObject({ name: 'BlockError', code: 'EPROTO' });
    expect(await device.frontendState()).toBe(XenbusState.Closed);
  });

  const badKeys: [string, Record<string, string>][] = [
    ['no sectors', { info: '0', 'sector-size': '512' }],
    ['sectors that are not a number', { ...goodKeys, sectors: '12abc' }],
    ['a sector size that is not a power of two', { ...goodKeys, 'sector-size': '1000' }],
    ['a sector size below 512', { ...goodKeys, 'sector-size': '256' }],
    ['info that is not a number', { ...goodKeys, info: '-1' }],
  ];
  it.each(badKeys)('refuses a backend publishing %s (EPROTO)', async (_what, keys) => {
    env = await blockHost();
    await expect(against(() => {}, keys)).rejects.toMatchObject({
      name: 'BlockError',
      code: 'EPROTO',
    });
  });
});
