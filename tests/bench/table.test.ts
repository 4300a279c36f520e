import { describe, expect, it } from 'vitest';
import { renderTable } from '../../bench/lib/table.ts';
import { measured, skipped } from './fixtures.ts';

describe('renderTable', () => {
  const table = renderTable([
    measured(
      'xenstore.seq.read',
      { median: 1.25, min: 1.1, max: 1.4 },
      { ratio: 1, direction: 'at-least' },
    ),
    measured(
      'xenstore.server',
      { median: 0.8, min: 0.7, max: 0.9 },
      { ratio: 1.5, direction: 'at-least' },
    ),
    skipped('ring.copy', 'no daemon'),
  ]);
  const lines = table.trimEnd().split('\n');

  it('prints medians, the median ratio with its spread, and the goal verdict', () => {
    const row = lines.find((l) => l.startsWith('xenstore.seq.read'))!;
    expect(row).toMatch(
      /C libxenstore 1\.00k\s+xenwire 1\.25k\s+1\.25×\s+1\.10×–1\.40×\s+≥ 1\.00×\s+met/,
    );
    expect(lines.find((l) => l.startsWith('xenstore.server'))).toMatch(/≥ 1\.50×\s+NOT MET$/);
  });

  it('says loudly that a pair was skipped, and why', () => {
    expect(lines.find((l) => l.startsWith('ring.copy'))).toMatch(/SKIPPED: no daemon$/);
  });

  it('lists extra figures under their row', () => {
    const index = lines.findIndex((l) => l.startsWith('xenstore.seq.read'));
    expect(lines[index + 1]).toBe('    xenwire: bytesPerNode=120');
  });

  it('aligns the columns under the headings', () => {
    const ratioColumn = lines[0]!.indexOf('ratio');
    expect(lines[2]!.slice(ratioColumn)).toMatch(/^1\.25×/);
  });
});
