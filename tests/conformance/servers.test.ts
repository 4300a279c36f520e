/**
 * The conformance suite against the three servers: Xen 4.17's C xenstored and oxenstored (under
 * the harness's shim, guests on rings) and xenwire's in-memory xenstored (guests on sockets).
 * Each must fail exactly the checks its expectations file lists: a new failure fails, and so does
 * a listed failure that now passes. The README's matrix must be what this run produced;
 * `npm run conformance:matrix` (XENWIRE_UPDATE_MATRIX=1) rewrites it from the run instead.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import {
  BUILT_IN_EXPECTATIONS,
  CATALOGUE,
  type ConformanceTarget,
  type JudgedRun,
  judge,
  ringGuests,
  runConformance,
  socketTemplateGuests,
} from '../../src/conformance/index.ts';
import { socketConnector } from '../../src/xenstore/index.ts';
import { type Served, serve } from '../../src/xenstore/server.ts';
import {
  type DaemonFlavour,
  oxenstoredAvailable,
  type RealXenstored,
  startRealXenstored,
  xenInstall,
} from '../support/real-xenstored.ts';
import { nativeAddonReady } from '../support/requirements.ts';
import {
  type MatrixRow,
  readmeMatrix,
  renderMatrix,
  renderRow,
  writeReadmeMatrix,
} from './matrix.ts';

const rows = new Map<string, MatrixRow>();
const ORDER = ['C xenstored 4.17', 'oxenstored 4.17', 'xenwire'];

/** The verdicts that fail a run, one line each. */
function unexpected(run: JudgedRun): string[] {
  return run.results
    .filter((result) => result.verdict === 'fail' || result.verdict === 'stale')
    .map((result) =>
      result.verdict === 'stale'
        ? `${result.check.id}: listed as known but passes`
        : `${result.check.id}: ${result.message}`,
    );
}

async function conformance(
  server: string,
  implementation: string,
  target: ConformanceTarget,
): Promise<void> {
  const run = judge(await runConformance(target, CATALOGUE), BUILT_IN_EXPECTATIONS[implementation]);
  expect(run.serverLost).toBeUndefined();
  expect(unexpected(run)).toEqual([]);
  rows.set(server, { server, run });
}

const realReady = xenInstall !== undefined && nativeAddonReady();

function describeDaemon(
  server: string,
  implementation: string,
  flavour: DaemonFlavour,
  skip: boolean,
) {
  describe.skipIf(skip)(`conformance of ${server}`, () => {
    let daemon: RealXenstored | undefined;
    afterAll(async () => {
      await daemon?.stop();
    });

    it('fails exactly the checks its expectations list', async () => {
      daemon = await startRealXenstored(xenInstall!, flavour);
      await conformance(server, implementation, {
        dom0: socketConnector(daemon.socketPath),
        guests: ringGuests(daemon.rundir),
        // Requests oxenstored never answers each wait this long.
        replyTimeoutMs: 1500,
      });
    }, 120_000);
  });
}

describeDaemon('C xenstored 4.17', 'c-4.17', 'xenstored', !realReady);
describeDaemon(
  'oxenstored 4.17',
  'oxenstored-4.17',
  'oxenstored',
  !realReady || !oxenstoredAvailable,
);

describe('conformance of xenwire', () => {
  let served: Served | undefined;
  let dir: string | undefined;
  afterAll(async () => {
    await served?.close();
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  it('fails exactly the checks its expectations list', async () => {
    dir = await mkdtemp(join(tmpdir(), 'xenwire-conformance-'));
    served = await serve({
      socketPath: join(dir, 'socket'),
      seed: { nodes: [] },
      guestDomains: [1, 2, 3],
      guestSocketDir: dir,
      version: '4.17',
    });
    const { server } = served;
    const guests = socketTemplateGuests(join(dir, 'dom{domid}.sock'));
    await conformance('xenwire', 'xenwire', {
      dom0: socketConnector(served.socketPath),
      // This test is the in-memory server's hypervisor: it reports a domain's death.
      guests: { ...guests, destroy: async (domid) => server.releaseDomain(domid) },
    });
  }, 120_000);
});

describe('the README matrix', () => {
  it('is the one this run produced', () => {
    const ran = ORDER.flatMap((server) => rows.get(server) ?? []);
    if (process.env.XENWIRE_UPDATE_MATRIX === '1') {
      expect(ran.map((row) => row.server)).toEqual(ORDER);
      writeReadmeMatrix(renderMatrix(ran));
    }
    const block = readmeMatrix();
    const perArea = renderMatrix([])
      .split('\n')
      .find((line) => line.startsWith('Checks per area'))!;
    expect(block).toContain(perArea);
    for (const row of ran) expect(block).toContain(renderRow(row));
  });
});
