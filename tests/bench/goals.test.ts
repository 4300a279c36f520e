import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { pinned, UNPINNED } from '../../bench/lib/conditions.ts';
import { discoverBenchFiles } from '../../bench/lib/discover.ts';
import { withFloorFractions } from '../../bench/lib/floor.ts';
import {
  defaultSpinsOnlyWhereItPays,
  evaluateGoals,
  GOALS,
  LEAST_NODE_CLIENT,
  NULL_DAEMON,
} from '../../bench/lib/goals.ts';
import type { MeasuredPair, PairOutcome } from '../../bench/lib/outcome.ts';
import { measured, skipped } from './fixtures.ts';

const flat = { min: 0, max: 0 };
const verdictOf = (outcomes: PairOutcome[], goal: string, condition = UNPINNED) =>
  evaluateGoals(condition, outcomes).find((v) => v.goal === goal);

describe('the goals', () => {
  it('each rest on pairs the bench has, with ids unique', async () => {
    const files = await discoverBenchFiles(fileURLToPath(new URL('../../bench', import.meta.url)));
    const pairs = new Set(files.flatMap((f) => ('pairs' in f ? f.pairs.map((p) => p.id) : [])));
    const ids = GOALS.map((g) => g.id);
    expect(new Set(ids).size).toBe(ids.length);
    for (const goal of GOALS) {
      expect(goal.pairs.length).toBeGreaterThan(0);
      for (const pair of goal.pairs) expect(pairs, `${goal.id} rests on ${pair}`).toContain(pair);
      if (goal.bound) expect(pairs, `${goal.id} is bounded by`).toContain(goal.bound.pair);
    }
  });
});

describe('evaluateGoals', () => {
  const read = (rate: number, cpu: readonly [number, number]) =>
    measured('xenstore.seq.read', { median: rate, ...flat }, { cpu: { client: cpu } });

  it('passes the client goal only when both rate and CPU hold, at the bounds included', () => {
    expect(verdictOf([read(1, [10e-6, 12e-6])], 'client.read')?.verdict).toBe('PASS');
    expect(verdictOf([read(0.99, [10e-6, 10e-6])], 'client.read')?.verdict).toBe('FAIL');
    expect(verdictOf([read(1.5, [10e-6, 12.1e-6])], 'client.read')?.verdict).toBe('FAIL');
  });

  it('names the condition and the figures it rests on', () => {
    const [verdict] = evaluateGoals(pinned(0), [read(1.05, [10e-6, 11e-6])]);
    expect(verdict).toMatchObject({ goal: 'client.read', condition: 'cpu0', verdict: 'PASS' });
    expect(verdict!.figures).toBe(
      'xenstore.seq.read: rate 1.05× (1.05k vs 1.00k ops/s); client CPU/op 1.10× (11.0 µs vs 10.0 µs)',
    );
  });

  it('judges the server on the daemon’s CPU, not the client’s', () => {
    const server = (daemon: readonly [number, number]) =>
      measured(
        'xenstore.server.mock',
        { median: 1.3, ...flat },
        { cpuRole: 'daemon', cpu: { client: [1e-6, 9e-6], daemon } },
      );
    expect(verdictOf([server([20e-6, 19e-6])], 'server.mock')?.verdict).toBe('PASS');
    expect(verdictOf([server([20e-6, 21e-6])], 'server.mock')?.verdict).toBe('FAIL');
  });

  it('asks for a share of the floor on one CPU only', () => {
    const [server] = withFloorFractions(
      [
        {
          ...measured('xenstore.server.mock', { median: 1.3, ...flat }),
          floor: { medium: 'socket', roundTripsPerOp: 1 },
        },
      ],
      { socket: 2000 },
    );
    // The candidate's median rate is 1300 round trips/s: 0.65 of 2000.
    expect(verdictOf([server!], 'server.floor', pinned(0))?.verdict).toBe('PASS');
    expect(verdictOf([server!], 'server.floor', UNPINNED)).toBeUndefined();
    const withoutFloor = measured('xenstore.server.mock', { median: 1.3, ...flat });
    expect(verdictOf([withoutFloor], 'server.floor', pinned(0))?.verdict).toBe('NOT MEASURED');
  });

  it('holds the default busyPoll to sleeping, and says where spinning pays', () => {
    const spin = (rate: number, cpu: readonly [number, number]) =>
      measured('xenstore.busypoll.read', { median: rate, ...flat }, { cpu: { client: cpu } });
    // The default never spins: it meets the goal whatever spinning would do.
    expect(verdictOf([spin(0.9, [10e-6, 11e-6])], 'busypoll.client')).toMatchObject({
      verdict: 'PASS',
      figures: expect.stringMatching(/^the default never spins; .* does not pay here$/),
    });
    expect(verdictOf([spin(1.4, [10e-6, 20e-6])], 'busypoll.client')?.figures).toMatch(
      /: pays here$/,
    );
    // Were the default adaptive, the pair would judge it: faster, or no dearer.
    const adaptive = defaultSpinsOnlyWhereItPays(
      'busypoll.client',
      'xenstore.busypoll.read',
      'client READ',
      'client',
      'adaptive',
    );
    const judged = (rate: number, cpu: readonly [number, number]) =>
      evaluateGoals(UNPINNED, [spin(rate, cpu)], new Map(), [adaptive])[0]?.verdict;
    expect(judged(1.4, [10e-6, 20e-6])).toBe('PASS');
    expect(judged(1, [10e-6, 10e-6])).toBe('PASS');
    expect(judged(0.9, [10e-6, 11e-6])).toBe('FAIL');
  });

  it('compares memory per node of the two daemons', () => {
    const memory = (mine: number, theirs: number) =>
      measured(
        'xenstore.large.memory',
        { median: 1, ...flat },
        { extra: [{ bytesPerNode: theirs }, { bytesPerNode: mine }] },
      );
    expect(verdictOf([memory(150, 160)], 'memory.per-node')?.verdict).toBe('PASS');
    expect(verdictOf([memory(170, 160)], 'memory.per-node')).toMatchObject({
      verdict: 'FAIL',
      figures: 'xenwire 170 vs C libxenstore 160 bytes/node (1.06×)',
    });
  });

  it('turns calls per second into time per call for the CLI', () => {
    const cli = (rate: number) => measured('cli.read', { median: rate, ...flat });
    // A rate 0.8 of node -e 0's is 1.25 times its time per call.
    expect(verdictOf([cli(0.8)], 'cli.read')?.verdict).toBe('PASS');
    expect(verdictOf([cli(0.7)], 'cli.read')?.verdict).toBe('FAIL');
  });

  it('says which pair did not run, and leaves out goals whose pairs were not chosen', () => {
    const verdicts = evaluateGoals(UNPINNED, [skipped('xenstore.seq.write', 'no daemon')]);
    expect(verdicts).toEqual([
      expect.objectContaining({
        goal: 'client.write',
        verdict: 'NOT MEASURED',
        figures: 'xenstore.seq.write skipped: no daemon',
      }),
    ]);
  });

  describe('bounds', () => {
    const least = (rate: { median: number; min: number; max: number }, cpu: number) =>
      measured(LEAST_NODE_CLIENT, rate, { cpu: { client: [10e-6, cpu * 10e-6] } });

    it('carry the figures of the least Node client beside a client verdict', () => {
      const verdict = verdictOf(
        [read(0.9, [10e-6, 13e-6]), least({ median: 0.95, min: 0.9, max: 1.01 }, 1.1)],
        'client.read',
      );
      expect(verdict).toMatchObject({ verdict: 'FAIL', reachable: true });
      expect(verdict!.bound).toBe(
        `${LEAST_NODE_CLIENT}: rate 0.95× (950 vs 1.00k ops/s); client CPU/op 1.10× (11.0 µs vs 10.0 µs); best pairs: rate 1.01×, client CPU/op 1.10×`,
      );
    });

    it('call a goal out of reach only when even the bound’s best pairs miss it', () => {
      const judged = (bound: MeasuredPair) =>
        verdictOf([read(0.7, [10e-6, 15e-6]), bound], 'client.read');
      expect(judged(least({ median: 0.8, min: 0.75, max: 0.85 }, 1.1))?.reachable).toBe(false);
      expect(judged(least({ median: 1.1, min: 1, max: 1.2 }, 1.3))?.reachable).toBe(false);
      expect(judged(least({ median: 0.95, min: 0.9, max: 1 }, 1.2))?.reachable).toBe(true);
    });

    it('leave a verdict alone when the bound did not run', () => {
      const verdict = verdictOf(
        [read(0.9, [10e-6, 13e-6]), skipped(LEAST_NODE_CLIENT, 'no daemon')],
        'client.read',
      );
      expect(verdict).toMatchObject({ verdict: 'FAIL' });
      expect(verdict).not.toHaveProperty('bound');
      expect(verdict).not.toHaveProperty('reachable');
    });

    it('hold the in-memory xenstored’s share of the floor to a daemon that does nothing', () => {
      const onFloor = (id: string, median: number) =>
        withFloorFractions(
          [
            {
              ...measured(id, { median, ...flat }, { cpuRole: 'daemon' }),
              floor: { medium: 'socket', roundTripsPerOp: 1 },
            },
          ],
          { socket: 2000 },
        )[0] as MeasuredPair;
      const verdict = verdictOf(
        [onFloor('xenstore.server.mock', 0.8), onFloor(NULL_DAEMON, 1.1)],
        'server.floor',
        pinned(0),
      );
      // 800 and 1100 round trips/s: 0.40 and 0.55 of 2000, both short of 0.60.
      expect(verdict).toMatchObject({ verdict: 'FAIL', reachable: false });
      expect(verdict!.bound).toBe(
        'xenwire 0.55 of the floor (2.00k round trips/s); best pair 0.55',
      );
      // A best pair of 1300 round trips/s, 0.65 of the floor: a null daemon reaches it there.
      const nullDaemon = onFloor(NULL_DAEMON, 1.1);
      const better = { ...nullDaemon, candidate: { ...nullDaemon.candidate, rates: [1100, 1300] } };
      expect(
        verdictOf([onFloor('xenstore.server.mock', 0.8), better], 'server.floor', pinned(0)),
      ).toMatchObject({ verdict: 'FAIL', reachable: true });
    });
  });

  it('says where a pair measured once for all conditions was measured', () => {
    const memory = measured(
      'xenstore.large.memory',
      { median: 1, ...flat },
      { extra: [{ bytesPerNode: 2 }, { bytesPerNode: 1 }] },
    );
    const [verdict] = evaluateGoals(
      pinned(0),
      [memory],
      new Map([['xenstore.large.memory', 'unpinned']]),
    );
    expect(verdict).toMatchObject({ condition: 'cpu0', verdict: 'PASS' });
    expect(verdict!.figures).toMatch(/measured in unpinned/);
  });
});
