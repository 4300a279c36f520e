import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  SringOffset,
  VchanNotify,
  VchanOffset,
  XenconsOffset,
  XenstoreConnectionState,
  XenstoreErrorIndicator,
  XenstoreFeature,
  XenstoreOffset,
} from '../../src/ring/index.ts';
import { ENTRY_TYPES, runTypescript } from './support/interpreter.ts';
import { buildReference, runReference } from './support/reference.ts';

/**
 * The TypeScript rings against Xen's headers: the same script of operations runs through the C
 * reference (tests/ring/ref/ring-ref.c, built with ring.h, xs_wire.h and console.h) and through
 * src/ring; every result and the final bytes of the whole area must be identical.
 */

const reference = buildReference();
const runs = Number(process.env.XENWIRE_RING_RUNS ?? 60);

function same(script: string[]): void {
  expect(runTypescript(script)).toEqual(runReference(reference!, script));
}

const NEAR_WRAP = 2 ** 32 - 700;

/** Offsets of each byte ring's (cons, prod) words, for starting them near 2^32. */
const BYTE_RINGS: Record<string, { area: number; cons: number; prod: number }> = {
  xsreq: { area: 4096, cons: 2048, prod: 2052 },
  xsrsp: { area: 4096, cons: 2056, prod: 2060 },
  consin: { area: 4096, cons: 3072, prod: 3076 },
  consout: { area: 4096, cons: 3080, prod: 3084 },
  flexin0: { area: 4096 * 2, cons: 0, prod: 4 },
  flexout0: { area: 4096 * 2, cons: 64, prod: 68 },
  flexin1: { area: 4096 * 3, cons: 0, prod: 4 },
  flexout2: { area: 4096 * 5, cons: 64, prod: 68 },
};

describe.skipIf(reference === undefined)('rings are byte-identical to the C headers', () => {
  it('puts every field at the offset the headers give it', () => {
    const c = Object.fromEntries(
      runReference(reference!, ['layout']).map((line) => {
        const [name, value] = line.split(' ');
        return [name!, Number(value)];
      }),
    );
    expect({
      'xenstore_domain_interface.req_cons': XenstoreOffset.reqCons,
      'xenstore_domain_interface.rsp_prod': XenstoreOffset.rspProd,
      'xenstore_domain_interface.server_features': XenstoreOffset.serverFeatures,
      'xenstore_domain_interface.connection': XenstoreOffset.connection,
      'xenstore_domain_interface.error': XenstoreOffset.error,
      'xencons_interface.in_cons': XenconsOffset.inCons,
      'xencons_interface.out_prod': XenconsOffset.outProd,
      'vchan_interface.left': VchanOffset.leftCons,
      'vchan_interface.right': VchanOffset.rightCons,
      'vchan_interface.left_order': VchanOffset.leftOrder,
      'vchan_interface.right_order': VchanOffset.rightOrder,
      'vchan_interface.cli_live': VchanOffset.cliLive,
      'vchan_interface.srv_live': VchanOffset.srvLive,
      'vchan_interface.cli_notify': VchanOffset.cliNotify,
      'vchan_interface.srv_notify': VchanOffset.srvNotify,
      'vchan_interface.grants': VchanOffset.grants,
      'r64_sring.req_event': SringOffset.reqEvent,
      'r64_sring.rsp_event': SringOffset.rspEvent,
      'r64_sring.pvt': SringOffset.pvt,
      'r64_sring.ring': SringOffset.ring,
      VCHAN_NOTIFY_WRITE: VchanNotify.WRITE,
      VCHAN_NOTIFY_READ: VchanNotify.READ,
      XENSTORE_SERVER_FEATURE_RECONNECTION: XenstoreFeature.RECONNECTION,
      XENSTORE_SERVER_FEATURE_ERROR: XenstoreFeature.ERROR,
      XENSTORE_ERROR_RINGIDX: XenstoreErrorIndicator.RINGIDX,
      XENSTORE_ERROR_PROTO: XenstoreErrorIndicator.PROTO,
      XENSTORE_RECONNECT: XenstoreConnectionState.RECONNECT,
    }).toEqual(c);
  });

  it('moves 1023/1024/1025-byte chunks through every byte ring across 2^32', () => {
    for (const [name, ring] of Object.entries(BYTE_RINGS)) {
      const script = [`area ${ring.area}`, `poke ${ring.cons} ${NEAR_WRAP}`];
      script.push(`poke ${ring.prod} ${NEAR_WRAP}`);
      for (let i = 0; i < 12; i++) {
        const len = 1023 + (i % 3);
        script.push(`bw ${name} ${len} ${i}`, `br ${name} ${(len * 7) % 1500}`, `br ${name} 4096`);
      }
      script.push(`bw ${name} 5000 99`, `bw ${name} 1 1`, 'dump');
      same(script);
    }
  });

  it('lays out ring.h rings for odd entry sizes and multi-page areas', () => {
    for (const entry of ENTRY_TYPES.keys()) {
      for (const bytes of [4096, 8192, 4096 * 4]) {
        const script = [`area ${bytes}`, `sinit ${entry} ${bytes}`];
        for (let i = 0; i < 40; i++) script.push(`freq ${i}`);
        script.push('fpush', 'bstat', 'bfinal');
        for (let i = 0; i < 40; i++) script.push('btake', `brsp ${i}`);
        script.push('bpush', 'fstat', 'ffinal', 'ftake', 'ftake', 'fstat', 'dump');
        same(script);
      }
    }
  });

  it('agrees on notifications and event indices when indices wrap past 2^32', () => {
    for (const entry of [12, 113]) {
      const start = 2 ** 32 - 5;
      const script = ['area 4096'];
      for (const off of [0, 8]) script.push(`poke ${off} ${start}`);
      for (const off of [4, 12]) script.push(`poke ${off} ${(start + 1) >>> 0}`);
      script.push(`sattach ${entry} 4096 ${start}`);
      for (let round = 0; round < 6; round++) {
        for (let i = 0; i < 3 + round; i++) script.push(`freq ${round * 10 + i}`);
        script.push('fpush', 'bfinal', 'btake', 'btake', `brsp ${round}`, 'bpush', 'ffinal');
        script.push('btake', 'btake', 'btake', 'btake', 'btake', 'btake', 'btake', 'btake');
        for (let i = 0; i < 10; i++) script.push(`brsp ${i}`);
        script.push('bpush', 'ftake', 'fstat', 'ffinal', 'ftake', 'ftake', 'ftake', 'ftake');
        script.push('ftake', 'ftake', 'ftake', 'ftake', 'ftake', 'ffinal', 'bfinal');
      }
      script.push('dump');
      same(script);
    }
  });

  it('reports a hostile peer identically (corrupt producer indices)', () => {
    same([
      'area 4096',
      'poke 2052 3000',
      'bw xsreq 10 1',
      'br xsreq 10',
      'poke 2060 1025',
      'br xsrsp 10',
      'poke 2060 1024',
      'br xsrsp 2000',
      'sinit 64 4096',
      'poke 0 100',
      'bstat',
      'btake',
      'bfinal',
      'poke 0 0',
      'sinit 64 4096',
      'freq 1',
      'freq 2',
      'freq 3',
      'fpush',
      'btake',
      'btake',
      'brsp 1',
      'poke 0 1',
      'bstat',
      'btake',
      'btake',
      'poke 8 500',
      'fstat',
      'ftake',
      'ffinal',
      'dump',
    ]);
  });

  it('matches on random byte-ring scripts', () => {
    const ringName = fc.constantFrom(...Object.keys(BYTE_RINGS));
    const op = fc.oneof(
      fc.record({ kind: fc.constant('bw'), len: fc.integer({ min: 0, max: 3000 }) }),
      fc.record({ kind: fc.constant('br'), len: fc.integer({ min: 0, max: 3000 }) }),
    );
    fc.assert(
      fc.property(
        ringName,
        fc.oneof(fc.constant(0), fc.constant(NEAR_WRAP), fc.integer({ min: 0, max: 2 ** 32 - 1 })),
        fc.array(op, { maxLength: 40 }),
        (name, start, ops) => {
          const ring = BYTE_RINGS[name]!;
          const script = [`area ${ring.area}`, `poke ${ring.cons} ${start}`];
          script.push(`poke ${ring.prod} ${start}`);
          ops.forEach((o, i) => {
            script.push(o.kind === 'bw' ? `bw ${name} ${o.len} ${i}` : `br ${name} ${o.len}`);
          });
          script.push('dump');
          same(script);
        },
      ),
      { numRuns: runs },
    );
  });

  it('matches on random request/response scripts', () => {
    const op = fc.constantFrom(
      'freq',
      'freq',
      'freq',
      'fpush',
      'btake',
      'btake',
      'brsp',
      'brsp',
      'bpush',
      'ftake',
      'ffinal',
      'bfinal',
      'fstat',
      'bstat',
    );
    fc.assert(
      fc.property(
        fc.constantFrom(...ENTRY_TYPES.keys()),
        fc.constantFrom(1, 2, 4),
        fc.oneof(fc.constant(0), fc.integer({ min: 2 ** 32 - 64, max: 2 ** 32 - 1 })),
        fc.array(op, { maxLength: 120 }),
        (entry, pages, start, ops) => {
          const bytes = pages * 4096;
          const script = [`area ${bytes}`];
          if (start === 0) {
            script.push(`sinit ${entry} ${bytes}`);
          } else {
            for (const off of [0, 8]) script.push(`poke ${off} ${start}`);
            for (const off of [4, 12]) script.push(`poke ${off} ${(start + 1) >>> 0}`);
            script.push(`sattach ${entry} ${bytes} ${start}`);
          }
          ops.forEach((o, i) => {
            script.push(o === 'freq' || o === 'brsp' ? `${o} ${i}` : o);
          });
          script.push('dump');
          same(script);
        },
      ),
      { numRuns: runs },
    );
  });
});
