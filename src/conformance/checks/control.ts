import { joinStrings, MessageType, toText } from '../../xenstore/index.ts';
import { type Check, CheckFailure, type CheckSpec, checks } from '../check.ts';
import { expectEqual } from '../connection.ts';
import { controlCode, doc } from './sources.ts';

const CONTROL = [doc('CONTROL'), controlCode('do_control')];

/** CONTROL with `args` answers `expected` (text, trailing nul included). */
function answers(rule: string, args: string[], expected: string): CheckSpec {
  return {
    rule,
    level: 'c-4.17',
    sources: CONTROL,
    async run(t) {
      const reply = await (await t.dom0()).rawOk(MessageType.CONTROL, joinStrings(args));
      expectEqual(toText(reply), expected, `the answer to CONTROL ${args.join(' ')}`);
    },
  };
}

/** CONTROL with `payload` is EINVAL. */
function refused(rule: string, payload: string | Buffer): CheckSpec {
  return {
    rule,
    level: 'c-4.17',
    sources: CONTROL,
    async run(t) {
      await (await t.dom0()).rawFails(MessageType.CONTROL, payload, 'EINVAL');
    },
  };
}

/** CONTROL with `args` answers text whose lines match every pattern. */
function reports(rule: string, args: string[], patterns: RegExp[]): CheckSpec {
  return {
    rule,
    level: 'c-4.17',
    sources: CONTROL,
    async run(t) {
      const text = toText(await (await t.dom0()).rawOk(MessageType.CONTROL, joinStrings(args)));
      const missing = patterns.filter((pattern) => !pattern.test(text));
      if (missing.length > 0 || !text.endsWith('\0')) {
        throw new CheckFailure(
          `CONTROL ${args.join(' ')} answered ${JSON.stringify(text)}, lacking ${missing.join(', ')}`,
        );
      }
    },
  };
}

export const controlChecks: Check[] = checks('control', {
  check: answers('CONTROL check answers OK', ['check'], 'OK\0'),
  'log-on': answers('CONTROL log on answers OK', ['log', 'on'], 'OK\0'),
  'log-off': answers('CONTROL log off answers OK', ['log', 'off'], 'OK\0'),
  print: answers('CONTROL print <string> answers OK', ['print', 'xenwire conformance'], 'OK\0'),
  help: reports(
    'CONTROL help lists the commands, one per line with a tab',
    ['help'],
    [/^check\t/m, /^log\t/m, /^print\t/m, /^quota\t/m, /^help\t/m],
  ),
  quota: reports(
    "CONTROL quota lists the global quotas with C's defaults",
    ['quota'],
    [
      /^Quota settings:\n/,
      /^nodes\s*:\s*1000 /m,
      /^watches\s*:\s*128 /m,
      /^transactions\s*:\s*10 /m,
      /^permissions\s*:\s*5 /m,
    ],
  ),
  'quota-soft': reports(
    'CONTROL quota-soft lists the soft memory quota',
    ['quota-soft'],
    [/^Quota settings:\n/, /^memory\s*:\s*\d+ /m],
  ),
  'quota-domain': reports(
    "CONTROL quota <domid> reports that domain's usage",
    ['quota', '0'],
    [/^Domain 0:\n/, /^nodes\s*:\s*\d+\n/m, /^watches\s*:\s*\d+\n/m, /^transactions\s*:\s*\d+\n/m],
  ),
  'log-without-argument-einval': refused(
    'CONTROL log without on or off is EINVAL',
    joinStrings(['log']),
  ),
  'print-without-argument-einval': refused(
    'CONTROL print without a string is EINVAL',
    joinStrings(['print']),
  ),
  'unknown-command-einval': refused(
    'An unknown CONTROL command is EINVAL',
    joinStrings(['xenwire-no-such-command']),
  ),
  'empty-einval': refused('CONTROL with an empty payload is EINVAL', Buffer.alloc(0)),
});
