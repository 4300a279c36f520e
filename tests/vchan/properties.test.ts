// Random ring sizes, chunkings, placements and deaths: whatever happens, each end reads exactly
// the bytes the other put in the ring, in order, then the end; and nothing is left behind.
import { once } from 'node:events';
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { VchanDuplex } from '../../src/vchan/index.ts';
import { closed, exchange, openPair, type VchanHost, vchanHost } from './support/vchan-host.ts';

let env: VchanHost;
/** Free grant entries of each domain before any vchan (guests keep their xenstore page's). */
let baseline: number[];
beforeAll(async () => {
  env = await vchanHost();
  baseline = freeGrants();
});
afterAll(async () => {
  await env.close();
});

let nextPort = 0;
const sizes = fc.constantFrom(0, 1, 1024, 2048, 2049, 4096, 9000, 70_000, 2 ** 20);
const placements = fc.constantFrom([0, 1], [1, 0], [1, 2]) as fc.Arbitrary<[number, number]>;
const chunking = fc.array(fc.integer({ min: 1, max: 12_000 }), { minLength: 0, maxLength: 10 });

/** Bytes numbered from `seed`, so that a misplaced or repeated byte shows. */
function pattern(length: number, seed: number): Buffer {
  const bytes = Buffer.alloc(length);
  for (let i = 0; i < length; i++) bytes[i] = (i * 7 + seed) & 0xff;
  return bytes;
}

function split(data: Buffer, lengths: readonly number[]): Buffer[] {
  const pieces: Buffer[] = [];
  let at = 0;
  for (const length of lengths) {
    pieces.push(data.subarray(at, at + length));
    at += length;
  }
  return pieces;
}

function connect(serverDomid: number, clientDomid: number, leftMin: number, rightMin: number) {
  return openPair(env, { serverDomid, clientDomid, port: nextPort++, leftMin, rightMin });
}

/** How many grant entries each domain could still grant. */
function freeGrants(): number[] {
  return env.hv.domains().map((domid) => {
    const taken = [];
    for (;;) {
      try {
        taken.push(env.hv.grants.grantAccess(domid, 0).ref);
      } catch {
        break;
      }
    }
    for (const ref of taken) env.hv.grants.endAccess(domid, ref);
    return taken.length;
  });
}

/** Every grant a vchan took is free again. */
function expectNoGrantLeft(): void {
  expect(freeGrants()).toEqual(baseline);
}

describe('libxenvchan ends under random sizes, chunkings and closes', () => {
  it('carry every byte both ways, then close from either side leaving nothing behind', async () => {
    await fc.assert(
      fc.asyncProperty(
        placements,
        sizes,
        sizes,
        chunking,
        chunking,
        fc.constantFrom('server', 'client'),
        async ([serverDomid, clientDomid], leftMin, rightMin, upChunks, downChunks, closer) => {
          const { path, server, client } = await connect(
            serverDomid,
            clientDomid,
            leftMin,
            rightMin,
          );
          const up = pattern(
            upChunks.reduce((a, b) => a + b, 0),
            1,
          );
          const down = pattern(
            downChunks.reduce((a, b) => a + b, 0),
            2,
          );
          const [atServer, atClient] = await Promise.all([
            exchange(server, split(down, downChunks), up.length),
            exchange(client, split(up, upChunks), down.length),
          ]);
          expect(atServer.equals(up)).toBe(true);
          expect(atClient.equals(down)).toBe(true);
          const done = [closed(server), closed(client)];
          (closer === 'server' ? server : client).end();
          expect(await Promise.all(done)).toEqual([undefined, undefined]);
          expect(await env.clientOf(0).exists(path)).toBe(false);
          expectNoGrantLeft();
        },
      ),
      { numRuns: 40 },
    );
  });

  it("when an end's process dies, the other reads what it had put in the ring, then the end", async () => {
    await fc.assert(
      fc.asyncProperty(
        placements,
        sizes,
        sizes,
        chunking,
        fc.nat(10),
        fc.constantFrom('server', 'client'),
        fc.boolean(),
        async (
          [serverDomid, clientDomid],
          leftMin,
          rightMin,
          chunks,
          dieAfter,
          victimRole,
          reading,
        ) => {
          const ends = await connect(serverDomid, clientDomid, leftMin, rightMin);
          const [victim, survivor, victimPlatform]: [
            VchanDuplex,
            VchanDuplex,
            typeof ends.serverPlatform,
          ] =
            victimRole === 'server'
              ? [ends.server, ends.client, ends.serverPlatform]
              : [ends.client, ends.server, ends.clientPlatform];
          victim.on('error', () => {}); // its platform goes from under it: it is dead
          const received: Buffer[] = [];
          const ended = once(survivor, 'end');
          const survivorClosed = closed(survivor);
          if (reading) survivor.on('data', (chunk: Buffer) => received.push(chunk));
          const data = pattern(
            chunks.reduce((a, b) => a + b, 0),
            3,
          );
          let completed = 0;
          let submitted = 0;
          for (const piece of split(data, chunks).slice(0, dieAfter)) {
            submitted += piece.length;
            victim.write(piece, () => {
              completed += piece.length;
            });
          }
          for (let i = 0; i < 3; i++) await new Promise((resolve) => setImmediate(resolve));
          const inRingAtDeath = completed;
          // The kernel tears the process down: live byte cleared, peer notified, pages gone.
          victimPlatform.close();
          if (!reading) survivor.on('data', (chunk: Buffer) => received.push(chunk));
          await ended;
          const got = Buffer.concat(received);
          expect(got.length).toBeGreaterThanOrEqual(inRingAtDeath);
          expect(got.length).toBeLessThanOrEqual(submitted);
          expect(got.equals(data.subarray(0, got.length))).toBe(true);
          expect(await survivorClosed).toBeUndefined();
          expectNoGrantLeft();
        },
      ),
      { numRuns: 40 },
    );
  });
});
