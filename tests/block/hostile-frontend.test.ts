import { once } from 'node:events';
import fc from 'fast-check';
import { afterEach, describe, expect, it, vi } from 'vitest';
import {
  BLKIF_ABIS,
  type Blkback,
  BlkifOp,
  type BlkifRequest,
  type BlkifResponse,
  BlkifStatus,
  decodeBlkifResponse,
  encodeBlkifRequest,
  encodeSegments,
  MemoryDisk,
  openBlkback,
} from '../../src/block/index.ts';
import type { FrontRing } from '../../src/ring/index.ts';
import { devicePaths, XenbusState } from '../../src/xenbus/index.ts';
import { type BlockHost, blockHost } from './support/block-host.ts';

/**
 * A frontend written by hand, so that it can break every rule: it lays out the ring, publishes
 * it, and puts whatever it likes in the slots and the indexes. The backend must answer every
 * request it takes, refuse the bad ones without touching the disk, and cut off a frontend that
 * claims more requests than its ring holds.
 */

const abi = BLKIF_ABIS['x86_64-abi'];
let env: BlockHost;
afterEach(async () => {
  await env?.close();
});

interface HandFrontend {
  readonly ring: FrontRing;
  readonly ringRef: number;
  /** The shared header's words: `req_prod`, `req_event`, `rsp_prod`, `rsp_event`. */
  readonly header: Uint32Array;
  /** Notifies the backend. */
  kick(): void;
  /** Granted data pages: `refs[i]` is `pages[i]`. */
  readonly refs: number[];
  readonly pages: Uint8Array[];
  send(requests: (BlkifRequest | Uint8Array)[]): void;
  /** Waits for `n` responses in all. */
  responses(n: number): Promise<BlkifResponse[]>;
}

async function handFrontend(options: {
  keys?: Record<string, string>;
  prefill?: (ring: FrontRing) => void;
}): Promise<HandFrontend> {
  const hv = env.host.hypervisor;
  const [grant] = hv.grants.grantRange(1, 0, 1);
  const ring = abi.ring.initFront(grant!.page.buffer, { byteOffset: grant!.page.byteOffset });
  options.prefill?.(ring);
  const data = hv.grants.grantRange(1, 0, 16);
  const events = env.guest.eventChannel;
  const port = events.bindUnboundPort(0);
  const received: BlkifResponse[] = [];
  let wake = () => {};
  events.on('pending', (p) => {
    if (p !== port) return;
    events.unmask(p);
    do {
      for (let r = ring.takeResponse(); r; r = ring.takeResponse()) {
        received.push(decodeBlkifResponse(r));
      }
    } while (ring.finalCheckForResponses());
    wake();
  });
  const dir = devicePaths(env.id).frontend;
  await env.host.guest(1).client.transaction(async (tx) => {
    for (const [key, value] of Object.entries({
      'ring-ref': String(grant!.ref),
      'event-channel': String(port),
      protocol: 'x86_64-abi',
      ...options.keys,
      state: String(XenbusState.Initialised),
    })) {
      await tx.write(`${dir}/${key}`, value);
    }
  });
  return {
    ring,
    ringRef: grant!.ref,
    header: new Uint32Array(grant!.page.buffer, grant!.page.byteOffset, 4),
    kick: () => events.notify(port),
    refs: data.map((g) => g.ref),
    pages: data.map((g) => g.page),
    send(requests) {
      for (const request of requests) {
        const slot = ring.nextRequest();
        if (request instanceof Uint8Array) slot.set(request.subarray(0, slot.length));
        else encodeBlkifRequest(abi, request, slot);
      }
      if (ring.pushRequests()) events.notify(port);
    },
    async responses(n) {
      while (received.length < n) await new Promise<void>((resolve) => (wake = resolve));
      return received.splice(0, n);
    },
  };
}

async function backendFor(disk: MemoryDisk, timeoutMs = 5000): Promise<Blkback> {
  return openBlkback({
    client: env.host.dom0Client,
    platform: env.dom0,
    frontendDomid: 1,
    devid: env.id.devid,
    disk,
    timeoutMs,
  });
}

const page = (ref: number, firstSect = 0, lastSect = 7) => ({ ref, firstSect, lastSect });
const read = (
  id: bigint,
  sector: number,
  segments: ReturnType<typeof page>[],
  count = segments.length,
): BlkifRequest => ({
  op: BlkifOp.read,
  id,
  handle: 0,
  sector,
  segmentCount: count,
  segments,
});
const write = (id: bigint, sector: number, segments: ReturnType<typeof page>[]): BlkifRequest => ({
  ...read(id, sector, segments),
  op: BlkifOp.write,
});

describe('blkback against a hostile frontend', () => {
  it('answers every bad request with an error, touching nothing, and serves good ones after', async () => {
    env = await blockHost();
    const disk = new MemoryDisk(64 * 1024);
    disk.bytes.fill(0x5a);
    const before = disk.bytes.slice();
    const [back, fe] = await Promise.all([backendFor(disk), handFrontend({})]);
    const [ref] = fe.refs as [number];
    fe.pages[1]?.fill(0xee);
    const table = fe.pages[2] as Uint8Array;
    encodeSegments(table, 0, [page(ref), page(0xbad), page(ref)]);
    const cases: [BlkifRequest, number, number][] = [
      [write(1n, 0, [page(0xbad)]), BlkifOp.write, BlkifStatus.error],
      [write(2n, 128, [page(fe.refs[1] as number)]), BlkifOp.write, BlkifStatus.error],
      [write(3n, 0, []), BlkifOp.write, BlkifStatus.error],
      [read(4n, 0, [page(ref)], 12), BlkifOp.read, BlkifStatus.error],
      [write(5n, 0, [page(fe.refs[1] as number, 4, 3)]), BlkifOp.write, BlkifStatus.error],
      [write(6n, 0, [page(fe.refs[1] as number, 0, 8)]), BlkifOp.write, BlkifStatus.error],
      [{ op: 77, id: 7n }, 77, BlkifStatus.notSupported],
      [{ op: BlkifOp.reserved1, id: 8n }, BlkifOp.reserved1, BlkifStatus.notSupported],
      [
        {
          op: BlkifOp.indirect,
          indirectOp: BlkifOp.discard,
          id: 9n,
          handle: 0,
          sector: 0,
          segmentCount: 1,
          indirectRefs: [ref],
        },
        BlkifOp.discard,
        BlkifStatus.error,
      ],
      [
        {
          op: BlkifOp.indirect,
          indirectOp: BlkifOp.write,
          id: 10n,
          handle: 0,
          sector: 0,
          segmentCount: 3,
          indirectRefs: [fe.refs[2] as number],
        },
        BlkifOp.write,
        BlkifStatus.error,
      ],
      [
        {
          op: BlkifOp.indirect,
          indirectOp: BlkifOp.write,
          id: 11n,
          handle: 0,
          sector: 0,
          segmentCount: 2,
          indirectRefs: [0xbad],
        },
        BlkifOp.write,
        BlkifStatus.error,
      ],
      [
        {
          op: BlkifOp.indirect,
          indirectOp: BlkifOp.read,
          id: 12n,
          handle: 0,
          sector: 0,
          segmentCount: 257,
          indirectRefs: [ref],
        },
        BlkifOp.read,
        BlkifStatus.error,
      ],
      [
        { op: BlkifOp.discard, id: 13n, flag: 0, sector: 100, count: 29 },
        BlkifOp.discard,
        BlkifStatus.error,
      ],
      [
        { op: BlkifOp.discard, id: 14n, flag: 0, sector: 2 ** 60, count: 1 },
        BlkifOp.discard,
        BlkifStatus.error,
      ],
      [
        write(15n, Number.MAX_SAFE_INTEGER, [page(fe.refs[1] as number)]),
        BlkifOp.write,
        BlkifStatus.error,
      ],
    ];
    fe.send(cases.map(([request]) => request));
    const answers = await fe.responses(cases.length);
    expect(answers).toEqual(
      expect.arrayContaining(
        cases.map(([request, op, status]) => ({ id: request.id, op, status })),
      ),
    );
    expect(answers).toHaveLength(cases.length);
    expect(Buffer.compare(disk.bytes, before)).toBe(0);
    expect(back.stats).toMatchObject({ okay: 0, writes: 0, reads: 0 });
    // Still serving: a good write, then a read of it.
    fe.send([write(20n, 8, [page(fe.refs[1] as number, 0, 7)])]);
    expect(await fe.responses(1)).toEqual([{ id: 20n, op: BlkifOp.write, status: 0 }]);
    expect(disk.bytes.subarray(4096, 8192).every((b) => b === 0xee)).toBe(true);
    fe.send([read(21n, 8, [page(fe.refs[3] as number, 2, 5)])]);
    expect(await fe.responses(1)).toEqual([{ id: 21n, op: BlkifOp.read, status: 0 }]);
    expect(fe.pages[3]?.subarray(1024, 3072).every((b) => b === 0xee)).toBe(true);
    expect(fe.pages[3]?.[0]).toBe(0);
  });

  it('answers each of any requests once, with its id, and stays up', async () => {
    env = await blockHost();
    const disk = new MemoryDisk(64 * 1024);
    const [back, fe] = await Promise.all([backendFor(disk), handFrontend({})]);
    let id = 0n;
    await fc.assert(
      fc.asyncProperty(
        fc.array(fc.uint8Array({ minLength: abi.requestSize, maxLength: abi.requestSize }), {
          minLength: 1,
          maxLength: 32,
        }),
        async (slots) => {
          const sent = slots.map((bytes) => {
            // Every slot gets a distinct id; the rest is noise (ops and counts included).
            id++;
            new DataView(bytes.buffer, bytes.byteOffset).setBigUint64(8, id, true);
            return { id, op: bytes[0] as number, inner: bytes[1] as number };
          });
          fe.send(slots);
          const answers = await fe.responses(slots.length);
          expect(answers.map((a) => a.id).sort()).toEqual(sent.map((s) => s.id).sort());
          for (const answer of answers) {
            const request = sent.find((s) => s.id === answer.id)!;
            expect([0, -1, -2]).toContain(answer.status);
            expect(answer.op).toBe(request.op === BlkifOp.indirect ? request.inner : request.op);
          }
        },
      ),
      { numRuns: 40 },
    );
    expect(back.connection).toBeDefined();
    expect(back.stats.okay + back.stats.errors + back.stats.notSupported).toBe(Number(id));
  });

  it('cuts off a frontend whose req_prod claims more requests than the ring holds', async () => {
    env = await blockHost();
    const [back, fe] = await Promise.all([backendFor(new MemoryDisk(8192), 300), handFrontend({})]);
    const closed = once(back, 'closed');
    // req_prod jumps a ring and a half ahead of what was answered.
    const words = new Uint32Array(env.host.hypervisor.buffer, 0, 0);
    void words;
    fe.send([read(1n, 0, [page(fe.refs[0] as number)])]);
    await fe.responses(1);
    const header = fe.ring.slot(0).buffer;
    const view = new Uint32Array(header, fe.ring.slot(0).byteOffset - 64, 4);
    Atomics.store(view, 0, fe.ring.reqProdPvt + 48);
    env.guest.eventChannel.notify(
      Number(
        await env.host.guest(1).client.readString(`${devicePaths(env.id).frontend}/event-channel`),
      ),
    );
    expect((await closed)[0]).toMatchObject({ code: 'EPROTO' });
    expect(back.mappedGrants).toBe(0);
    expect(await env.host.dom0Client.readString(`${back.device.path}/state`)).toBe(
      String(XenbusState.Closed),
    );
    // Nothing of the frontend is mapped any more: its ring and data pages end.
    env.host.hypervisor.grants.endAccess(1, fe.ringRef);
    env.host.hypervisor.grants.endAccess(1, fe.refs[0] as number);
  });

  it('refuses a ring handed over holding more requests than fit, and an unknown protocol', async () => {
    env = await blockHost();
    const overfull = Promise.all([
      backendFor(new MemoryDisk(8192)),
      handFrontend({
        prefill: (ring) => {
          const view = new Uint32Array(ring.slot(0).buffer, ring.slot(0).byteOffset - 64, 4);
          Atomics.store(view, 0, 33);
        },
      }),
    ]);
    await expect(overfull).rejects.toMatchObject({ code: 'EPROTO' });
    await env.close();
    env = await blockHost();
    const unknown = Promise.all([
      backendFor(new MemoryDisk(8192)),
      handFrontend({ keys: { protocol: 'arm-abi' } }),
    ]);
    await expect(unknown).rejects.toMatchObject({ name: 'BlockError', code: 'EPROTO' });
    await vi.waitFor(async () =>
      expect(await env.host.dom0Client.readString(`${devicePaths(env.id).backend}/state`)).toBe(
        String(XenbusState.Closed),
      ),
    );
  });
});
