import { describe, expect, it } from 'vitest';
import {
  FaultSpecError,
  injectsFaults,
  parseFaultSpec,
  ruleMatches,
} from '../../src/xenstore/faults/index.ts';

function refusal(spec: Parameters<typeof parseFaultSpec>[0]): FaultSpecError {
  try {
    parseFaultSpec(spec);
  } catch (error) {
    if (error instanceof FaultSpecError) return error;
    throw error;
  }
  throw new Error(`accepted ${JSON.stringify(spec)}`);
}

describe('fault specs', () => {
  it('parse fixed values, ranges, rates and rules', () => {
    const plan = parseFaultSpec({
      seed: '42',
      delay: '2-20',
      split: 1,
      resetAfter: '3-9',
      inject: ['WRITE:/local/domain/*/device/*:EAGAIN:0.1', '*:*:EIO'],
      duplicateEvents: '0.5',
      reorderEvents: 1,
      stall: '0.25:300',
    });
    expect(plan).toEqual({
      seed: 42,
      delay: { min: 2, max: 20 },
      split: { min: 1, max: 1 },
      disconnect: { after: { min: 3, max: 9 }, mode: 'reset' },
      inject: [
        {
          text: 'WRITE:/local/domain/*/device/*:EAGAIN:0.1',
          op: 'WRITE',
          path: '/local/domain/*/device/*',
          error: 'EAGAIN',
          rate: 0.1,
        },
        { text: '*:*:EIO', op: '*', path: '*', error: 'EIO', rate: 1 },
      ],
      duplicateEvents: 0.5,
      reorderEvents: 1,
      stall: { rate: 0.25, ms: 300 },
    });
    expect(injectsFaults(plan)).toBe(true);
  });

  it('draw a seed when none is given, and inject nothing when nothing is asked', () => {
    const plan = parseFaultSpec({});
    expect(Number.isInteger(plan.seed)).toBe(true);
    expect(injectsFaults(plan)).toBe(false);
    expect(parseFaultSpec({ dropAfter: 0 }).disconnect).toEqual({
      after: { min: 0, max: 0 },
      mode: 'drop',
    });
  });

  it.each([
    [{ inject: 'WRITE:/x' }, 'inject', 'WRITE:/x'],
    [{ inject: 'WRIT:/x:EAGAIN' }, 'inject', 'WRIT'],
    [{ inject: 'WRITE:/x:EFOO' }, 'inject', 'EFOO'],
    [{ inject: 'WRITE:/x:EAGAIN:2' }, 'inject', '2'],
    [{ inject: 'WRITE::EAGAIN' }, 'inject', 'WRITE::EAGAIN'],
    [{ delay: '5-2' }, 'delay', '5-2'],
    [{ delay: '-1' }, 'delay', '-1'],
    [{ split: '0' }, 'split', '0'],
    [{ split: 'x' }, 'split', 'x'],
    [{ stall: '0.5' }, 'stall', '0.5'],
    [{ stall: '0.5:soon' }, 'stall', 'soon'],
    [{ duplicateEvents: '1.5' }, 'duplicateEvents', '1.5'],
    [{ reorderEvents: '' }, 'reorderEvents', ''],
    [{ seed: '-3' }, 'seed', '-3'],
    [{ seed: 2 ** 32 }, 'seed', String(2 ** 32)],
    [{ dropAfter: 1, resetAfter: 2 }, 'dropAfter', '1'],
  ])('refuse %j with EINVAL naming the option and the part', (spec, option, part) => {
    const error = refusal(spec);
    expect(error.code).toBe('EINVAL');
    expect(error.option).toBe(option);
    expect(error.part).toBe(part);
    expect(error.message).toContain(JSON.stringify(part));
  });

  it('match paths element by element, and everything below a match', () => {
    const [rule] = parseFaultSpec({ inject: 'WRITE:/local/domain/*/device/*:EAGAIN' }).inject;
    expect(ruleMatches(rule!, 'WRITE', '/local/domain/3/device/vif')).toBe(true);
    expect(ruleMatches(rule!, 'WRITE', '/local/domain/3/device/vif/0/state')).toBe(true);
    expect(ruleMatches(rule!, 'WRITE', '/local/domain/3/device')).toBe(false);
    expect(ruleMatches(rule!, 'WRITE', '/local/domain/3/4/device/vif')).toBe(false);
    expect(ruleMatches(rule!, 'WRITE', '/local/domain/3/devices/vif')).toBe(false);
    expect(ruleMatches(rule!, 'READ', '/local/domain/3/device/vif')).toBe(false);
    expect(ruleMatches(rule!, 'WRITE', undefined)).toBe(false);
    const [any] = parseFaultSpec({ inject: '*:*:EIO' }).inject;
    expect(ruleMatches(any!, 'TRANSACTION_START', undefined)).toBe(true);
    const [dotted] = parseFaultSpec({ inject: 'READ:/a.b:EIO' }).inject;
    expect(ruleMatches(dotted!, 'READ', '/aXb')).toBe(false);
  });
});
