import { describe, expect, it } from 'vitest';
import { withFloorFractions } from '../../bench/lib/floor.ts';
import type { GoalVerdict } from '../../bench/lib/goals.ts';
import { renderGoalGrid, renderGoals, renderTable } from '../../bench/lib/table.ts';
import { measured, skipped } from './fixtures.ts';

describe('renderTable', () => {
  const [read] = withFloorFractions(
    [
      {
        ...measured(
          'xenstore.seq.read',
          { median: 1.25, min: 1.1, max: 1.4 },
          {
            goal: { ratio: 1, direction: 'at-least' },
            cpu: { daemon: [20e-6, 10e-6], client: [10e-6, 15e-6] },
          },
        ),
        floor: { medium: 'socket', roundTripsPerOp: 1 },
      },
    ],
    { socket: 4000 },
  );
  const table = renderTable([
    read!,
    measured(
      'xenstore.server',
      { median: 0.8, min: 0.7, max: 0.9 },
      { goal: { ratio: 1.5, direction: 'at-least' } },
    ),
    skipped('ring.copy', 'no daemon'),
  ]);
  const lines = table.trimEnd().split('\n');
  const index = lines.findIndex((l) => l.startsWith('xenstore.seq.read'));

  it('prints medians, the median ratio with its spread, and the goal verdict', () => {
    expect(lines[index]).toMatch(
      /C libxenstore 1\.00k\s+xenwire 1\.25k\s+1\.25×\s+1\.10×–1\.40×\s+≥ 1\.00×\s+met/,
    );
    expect(lines.find((l) => l.startsWith('xenstore.server'))).toMatch(/≥ 1\.50×\s+NOT MET$/);
  });

  it('prints CPU per op of each process, the pair’s own first, with its ratio', () => {
    expect(lines[index + 1]).toBe(
      '    CPU/op  client 10.0 µs → 15.0 µs = 1.50× (1.50×–1.50×) · daemon 20.0 µs → 10.0 µs = 0.50× (0.50×–0.50×)',
    );
  });

  it('prints the fraction of the floor', () => {
    expect(lines[index + 2]).toBe(
      '    floor   C libxenstore 0.25, xenwire 0.31 of the socket floor (4.00k round trips/s)',
    );
  });

  it('says loudly that a pair was skipped, and why', () => {
    expect(lines.find((l) => l.startsWith('ring.copy'))).toMatch(/SKIPPED: no daemon$/);
  });

  it('lists extra figures under their row', () => {
    expect(lines[index + 3]).toBe('    xenwire: bytesPerNode=120');
  });

  it('aligns the columns under the headings', () => {
    const ratioColumn = lines[0]!.indexOf('ratio');
    expect(lines[2]!.slice(ratioColumn)).toMatch(/^1\.25×/);
  });
});

describe('renderGoals and renderGoalGrid', () => {
  const verdict = (goal: string, condition: string, v: GoalVerdict['verdict']): GoalVerdict => ({
    goal,
    statement: `statement of ${goal}`,
    condition,
    verdict: v,
    figures: `figures of ${goal}`,
  });
  const verdicts = [
    verdict('client.read', 'unpinned', 'PASS'),
    verdict('client.read', 'cpu0', 'FAIL'),
    verdict('server.floor', 'cpu0', 'NOT MEASURED'),
  ];

  it('names the condition on every verdict line, figures beneath', () => {
    const lines = renderGoals(verdicts).trimEnd().split('\n');
    expect(lines[0]).toMatch(/^PASS \[unpinned\]\s+statement of client\.read$/);
    expect(lines[1]).toMatch(/^\s+figures of client\.read$/);
    expect(lines[4]).toMatch(/^NOT MEASURED \[cpu0\]\s+statement of server\.floor$/);
  });

  it('prints a goal’s bound under its figures, and says when the bound misses it too', () => {
    const bounded = (reachable: boolean): GoalVerdict => ({
      ...verdict('client.read', 'cpu0', 'FAIL'),
      bound: 'figures of the bound',
      reachable,
    });
    expect(
      renderGoals([bounded(true)])
        .trimEnd()
        .split('\n')[2],
    ).toMatch(/^\s+bound: figures of the bound$/);
    expect(
      renderGoals([bounded(false)])
        .trimEnd()
        .split('\n')[2],
    ).toMatch(/^\s+bound: figures of the bound \(misses the goal too\)$/);
    const grid = renderGoalGrid(['cpu0'], [bounded(false)])
      .trimEnd()
      .split('\n');
    expect(grid[1]).toMatch(/^client\.read\s+FAIL \(out of reach\)$/);
  });

  it('puts every goal in every condition in a grid, a dash where it does not apply', () => {
    const grid = renderGoalGrid(['unpinned', 'cpu0'], verdicts).trimEnd().split('\n');
    expect(grid[0]).toMatch(/^goal\s+unpinned\s+cpu0$/);
    expect(grid[1]).toMatch(/^client\.read\s+PASS\s+FAIL$/);
    expect(grid[2]).toMatch(/^server\.floor\s+–\s+NOT MEASURED$/);
  });
});
