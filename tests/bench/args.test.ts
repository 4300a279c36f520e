import { describe, expect, it } from 'vitest';
import { DEFAULT_PAIRS, parseArgs, selected } from '../../bench/lib/args.ts';

describe('parseArgs', () => {
  it('defaults to a full run of everything', () => {
    expect(parseArgs([])).toEqual({ quick: false, pairs: DEFAULT_PAIRS, filters: [], help: false });
    expect(DEFAULT_PAIRS).toBeGreaterThanOrEqual(5);
  });

  it('reads --quick, --pairs in both spellings and filters', () => {
    expect(parseArgs(['--quick', '--pairs', '7', 'xenstore.seq'])).toMatchObject({
      quick: true,
      pairs: 7,
      filters: ['xenstore.seq'],
    });
    expect(parseArgs(['--pairs=9']).pairs).toBe(9);
  });

  it('reads --cpu in both spellings, and leaves it unset by default', () => {
    expect(parseArgs(['--cpu', '0']).cpu).toBe(0);
    expect(parseArgs(['--cpu=1', 'ring']).cpu).toBe(1);
    expect('cpu' in parseArgs([])).toBe(false);
    expect(() => parseArgs(['--cpu'])).toThrow(/CPU number/);
    expect(() => parseArgs(['--cpu', '-1'])).toThrow(/CPU number/);
    expect(() => parseArgs(['--cpu='])).toThrow(/CPU number/);
  });

  it('rejects unknown options and bad pair counts', () => {
    expect(() => parseArgs(['--fast'])).toThrow(/unknown option/);
    expect(() => parseArgs(['--pairs', '0'])).toThrow(/positive integer/);
    expect(() => parseArgs(['--pairs'])).toThrow(/positive integer/);
  });
});

describe('selected', () => {
  it('matches id prefixes, or everything without filters', () => {
    expect(selected('xenstore.seq.read', [])).toBe(true);
    expect(selected('xenstore.seq.read', ['ring', 'xenstore.seq'])).toBe(true);
    expect(selected('xenstore.tx.empty', ['xenstore.seq'])).toBe(false);
  });
});
