import { execFile } from 'node:child_process';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  type RealXenstored,
  startRealXenstored,
  type XenInstall,
  xenInstall,
} from '../support/real-xenstored.ts';
import { sourceCommand, xenstoreC, xenstoreControlC, xenwire } from './run-cli.ts';

/**
 * The drop-in subcommands against Xen 4.17's own tools, on one real C xenstored: every case runs
 * both ways from the same state, and stdout, stderr (program name normalised), exit status and
 * the store afterwards must be identical.
 */

// The state every case starts from: a few nodes with awkward values, permissions and depth.
const SETUP_WRITES = [
  ['/a/b', 'x\\ty\\n\\001\\xff'],
  ['/a/c', ''],
  ['/d', '2'],
  ['/e/f/g', 'deep'],
  ['/long', 'v'.repeat(150)],
  ['/local/domain/0/name', 'Domain-0'],
].flat();

const cases: readonly (readonly string[])[] = [
  // program and mode errors
  [],
  ['bogus'],
  // read
  ['read', '/a/b'],
  ['read', '-p', '/a/b', '/d'],
  ['read', '-R', '/a/b'],
  ['read', '--raw', '/d'],
  ['read', '/d', '/nope'],
  ['read', '/nope'],
  ['read'],
  ['read', '-h'],
  ['read', '-x', '/d'],
  ['read', '--pre', '/d'],
  ['read', '--raw=1', '/d'],
  ['read', '--bogus', '/d'],
  ['read', '--r', '/d'],
  ['read', '--', '-p'],
  ['read', '-t', '/d'],
  ['read', '-s', '/d'],
  ['read', '/d', '-p'],
  ['read', 'bad//path'],
  ['read', 'name'],
  ['read', '/long'],
  ['read', '-pR', '/a/b', '/d'],
  ['read', ''],
  // write
  ['write', '/w', '1', '/x'],
  ['write', '/w', 'a\\tb'],
  ['write', '-R', '/w', 'a\\tb'],
  ['write', '/w1', '1', '/w2', '2'],
  ['write', '/w', 'trailing\\'],
  ['write', '/w', '\\x41\\101\\q\\x'],
  ['write', 'bad//p', '1'],
  ['write', '/a/b/c/d', 'v'],
  ['write', 'relative', 'v'],
  ['write', '-p', '/w', '1'],
  ['write', '/u', 'h\u00e9llo \u2603'],
  ['write', '/big', 'x'.repeat(5000)],
  // ls
  ['ls'],
  ['ls', '/a'],
  ['ls', '-f'],
  ['ls', '-p'],
  ['ls', '-fp'],
  ['ls', '--flat', '/e'],
  ['ls', '/zz'],
  ['ls', '-t'],
  ['ls', '/', '/a'],
  ['ls', '/long'],
  ['ls', '/d'],
  ['ls', '/a/'],
  ['ls', '-p', '/e/f'],
  // list
  ['list', '/'],
  ['list', '-p', '/'],
  ['list', '-p', '/a'],
  ['list', '/zz', '/a'],
  ['list', '/a', '/e'],
  ['list'],
  // rm
  ['rm', '/a/b'],
  ['rm', '-t', '/e/f/g'],
  ['rm', '-t', '/a/b'],
  ['rm', '-t', 'name'],
  ['rm', '/zz'],
  ['rm', '/zz/yy'],
  ['rm', '/a', '/zz/yy'],
  ['rm', '-p', '/a'],
  ['rm'],
  // exists
  ['exists', '/a'],
  ['exists', '/zz'],
  ['exists', '/a', '/zz'],
  ['exists'],
  ['exists', '-p', '/a'],
  // chmod
  ['chmod', '/d', 'r0'],
  ['chmod', '/d', 'b0', 'r1', 'w2'],
  ['chmod', '-u', '/e/f/g', 'n0'],
  ['chmod', '-r', '/e', 'b0'],
  ['chmod', '/d', 'x'],
  ['chmod', '/d'],
  ['chmod', '/nope', 'b0'],
  ['chmod', '/d', 'r0x10'],
  ['chmod', '-u', 'name', 'b0'],
  ['chmod', '-ur', '/e/f', 'r0', 'b1'],
  ['chmod'],
  // watch: xenstored fires each new watch once, so these end by themselves
  ['watch', '-n', '1', '/a'],
  ['watch', '-n', '2', '/a', '/d'],
  ['watch', '-n', '0', '/a'],
  ['watch', '-n1', '/d'],
  ['watch', '--number=1', '/d'],
  ['watch', '-n'],
  ['watch', '-n', '1', 'bad//path'],
  ['watch', '-p', '/a'],
  ['watch', '-n', '1', '@introduceDomain'],
  ['watch', '-n', '1', 'name'],
];

const available = xenInstall !== undefined;

describe.skipIf(!available)('drop-in subcommands against the C xenstore tools', () => {
  const install = xenInstall as XenInstall;
  let daemon: RealXenstored;
  const c = (args: string[]) => xenstoreC(install, args, daemon.socketPath);

  /** Back to the setup state: everything but /tool removed, then the setup nodes written. */
  async function reset(): Promise<void> {
    const listing = (await c(['list', '/'])).stdout;
    const top = listing.split('\n').filter((name) => name && name !== 'tool');
    if (top.length > 0) expect((await c(['rm', ...top.map((name) => `/${name}`)])).status).toBe(0);
    expect((await c(['write', ...SETUP_WRITES])).status).toBe(0);
    expect((await c(['chmod', '/d', 'b0', 'r1'])).status).toBe(0);
  }

  /** The whole store with permissions, to compare what a command changed. */
  const state = async () => (await c(['ls', '-fp', '/'])).stdout;

  beforeAll(async () => {
    daemon = await startRealXenstored(install);
  });
  afterAll(async () => {
    await daemon?.stop();
  });

  it('behave like the C tools on a fresh daemon', async () => {
    const fresh = await startRealXenstored(install);
    try {
      for (const args of [
        ['ls', '-fp'],
        ['list', '-p', '/tool'],
        ['read', '/tool'],
        ['exists', '/local'],
      ]) {
        const expected = await xenstoreC(install, args, fresh.socketPath);
        expect(await xenwire(args, fresh.socketPath), args.join(' ')).toEqual(expected);
      }
    } finally {
      await fresh.stop();
    }
  });

  it.each(cases.map((args) => [args.join(' ') || '(no arguments)', args]))(
    '%s',
    async (_name, args) => {
      await reset();
      const expected = await c([...args]);
      const expectedState = await state();
      await reset();
      const actual = await xenwire([...args], daemon.socketPath);
      expect(actual).toEqual(expected);
      expect(await state()).toBe(expectedState);
    },
  );

  it.each([[[]], [['check']], [['help']], [['bogus']], [['log']], [['quota']]])(
    'control %j',
    async (args) => {
      const expected = await xenstoreControlC(install, args, daemon.socketPath);
      expect(await xenwire(['control', ...args], daemon.socketPath)).toEqual(expected);
    },
  );

  it.each([
    [50, ['ls']],
    [50, ['ls', '-p']],
    [30, ['ls', '-p', '/a']],
    [200, ['ls', '-p']],
  ])('cut ls lines to a %i-column terminal as the C tool does: %j', async (columns, args) => {
    await reset();
    const quote = (word: string) => `'${word.replaceAll("'", "'\\''")}'`;
    // `script` gives the program a pseudo-terminal, sized by stty, as its stdout and stderr.
    const onTerminal = (command: string[]) =>
      new Promise<string>((resolve, reject) => {
        const line = `stty cols ${columns}; ${command.map(quote).join(' ')}`;
        const env = { ...daemon.env, XENSTORED_PATH: daemon.socketPath };
        execFile('script', ['-qec', line, '/dev/null'], { env, timeout: 30_000 }, (error, out) =>
          error ? reject(error) : resolve(out),
        );
      });
    const expected = await onTerminal([`${install.toolDir}/xenstore`, ...args]);
    expect(expected).toMatch(/\r\n/);
    expect(await onTerminal([...sourceCommand(), ...args])).toBe(expected);
  });

  it('report a missing daemon as the C tools do', async () => {
    const missing = '/nonexistent/socket';
    for (const args of [['read', '/d'], ['ls']]) {
      expect(await xenwire(args, missing)).toEqual(await xenstoreC(install, args, missing));
    }
    expect(await xenwire(['control', 'help'], missing)).toEqual({
      status: 1,
      stdout: '',
      stderr: 'Failed to contact Xenstored.\n',
    });
  });
});
