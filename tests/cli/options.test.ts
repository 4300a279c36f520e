import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { atoi, getoptLong, type LongOption } from '../../src/cli/getopt.ts';
import { sanitiseValue, unsanitiseValue } from '../../src/cli/sanitise.ts';

const longs: LongOption[] = [
  { name: 'recurse', letter: 'r', hasArg: false },
  { name: 'raw', letter: 'R', hasArg: false },
  { name: 'number', letter: 'n', hasArg: true },
];

function parse(args: string[]) {
  const warnings: string[] = [];
  const result = getoptLong(args, 'rRn:', longs, 'prog', (line) => warnings.push(line));
  return { ...result, warnings };
}

describe('getoptLong', () => {
  it('permutes operands after options, clusters, and stops at --', () => {
    expect(parse(['a', '-rR', 'b', '-n3', '--', '-r'])).toEqual({
      options: [{ letter: 'r' }, { letter: 'R' }, { letter: 'n', value: '3' }],
      operands: ['a', 'b', '-r'],
      warnings: [],
    });
  });

  it('takes arguments from the next word or after =, and abbreviations when unique', () => {
    expect(parse(['-n', '5', '--num=6', '--number', '7', '--rec']).options).toEqual([
      { letter: 'n', value: '5' },
      { letter: 'n', value: '6' },
      { letter: 'n', value: '7' },
      { letter: 'r' },
    ]);
  });

  it("reports problems in glibc's words and skips the option", () => {
    expect(parse(['-x', '--bogus', '--r', '--raw=1', '--number', '-']).warnings).toEqual([
      "prog: invalid option -- 'x'",
      "prog: unrecognized option '--bogus'",
      "prog: option '--r' is ambiguous; possibilities: '--recurse' '--raw'",
      "prog: option '--raw' doesn't allow an argument",
    ]);
    expect(parse(['-n']).warnings).toEqual(["prog: option requires an argument -- 'n'"]);
    expect(parse(['--number']).warnings).toEqual(["prog: option '--number' requires an argument"]);
  });
});

describe('atoi', () => {
  it('reads leading digits like C', () => {
    expect([atoi('12'), atoi(' -3x'), atoi('x'), atoi(''), atoi('+7')]).toEqual([12, -3, 0, 0, 7]);
  });
});

describe('sanitiseValue and unsanitiseValue', () => {
  it('escape as the C tools do', () => {
    expect(sanitiseValue(Buffer.from('a\\b\t\n\r\x01\x7f\xff', 'latin1'))).toBe(
      'a\\\\b\\t\\n\\r\\001\\x7f\\xff',
    );
  });

  it('unescape what the C tool accepts, odd cases included', () => {
    expect(unsanitiseValue('\\x41\\101\\q\\x\\7777').toString('latin1')).toBe('AAqx\xff7');
    expect([...unsanitiseValue('end\\')]).toEqual([...Buffer.from('end\0')]);
  });

  it('round-trip any bytes', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 64 }), (bytes) => {
        expect([...unsanitiseValue(sanitiseValue(bytes))]).toEqual([...bytes]);
      }),
    );
  });
});
