import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { dropInCommands, toolCommands } from '../../src/cli/registry.ts';
import { xenwire } from './run-cli.ts';

/** The program around the subcommands: version, help, global options, JSON errors. */

const manifest = JSON.parse(
  readFileSync(new URL('../../package.json', import.meta.url), 'utf8'),
) as { version: string };
const commandNames = [...Object.keys(dropInCommands), ...Object.keys(toolCommands)];

const jsonLines = (text: string): unknown[] =>
  text
    .trim()
    .split('\n')
    .map((line) => JSON.parse(line));

describe('xenwire', () => {
  it('--version prints the package version', async () => {
    expect(await xenwire(['--version'])).toEqual({
      status: 0,
      stdout: `xenwire ${manifest.version}\n`,
      stderr: '',
    });
  });

  it('--help lists every registered command with its summary', async () => {
    const { status, stdout } = await xenwire(['--help']);
    expect(status).toBe(0);
    for (const [name, entry] of Object.entries({ ...dropInCommands, ...toolCommands })) {
      expect(stdout).toMatch(new RegExp(`^  ${name} +${entry.summary}$`, 'm'));
    }
  });

  it.each(commandNames)('%s --help prints its usage and help on stdout, status 0', async (name) => {
    const help = await xenwire([name, '--help']);
    expect(help).toMatchObject({ status: 0, stderr: '' });
    expect(help.stdout).toMatch(new RegExp(`^Usage: xenwire ${name} `));
    // More than the usage line: what it does.
    expect(help.stdout.split('\n').length).toBeGreaterThan(3);
    expect(await xenwire(['help', name])).toEqual(help);
  });

  it('takes the global options before the command as well as after it', async () => {
    const expected = { status: 0, stdout: 'Domain-0\n', stderr: '' };
    const key = '/local/domain/0/name';
    expect(await xenwire(['--mock', 'read', key])).toEqual(expected);
    expect(await xenwire(['read', '--mock', key])).toEqual(expected);
    expect(await xenwire(['read', key, '--mock'])).toEqual(expected);
    expect(jsonLines((await xenwire(['--json', '--mock', 'read', key])).stdout)).toEqual([
      { path: key, value: 'Domain-0' },
    ]);
    expect((await xenwire(['--mock', 'tree', '/local/domain/0/control'])).stdout).toContain(
      'feature-poweroff',
    );
  });

  it('exists --json reports every key, status 1 when one is missing', async () => {
    const some = await xenwire(['--mock', 'exists', '--json', '/local/domain/0', '/nope', '/vm']);
    expect(some.status).toBe(1);
    expect(jsonLines(some.stdout)).toEqual([
      { path: '/local/domain/0', exists: true },
      { path: '/nope', exists: false },
      { path: '/vm', exists: true },
    ]);
    const all = await xenwire(['--mock', 'exists', '--json', '/local/domain/0']);
    expect(all).toEqual({
      status: 0,
      stdout: '{"path":"/local/domain/0","exists":true}\n',
      stderr: '',
    });
    // Without --json, as the C tool: silent, status only.
    expect(await xenwire(['--mock', 'exists', '/local', '/nope'])).toEqual({
      status: 1,
      stdout: '',
      stderr: '',
    });
  });

  it('gives errors as JSON records with an errno-style code under --json', async () => {
    const missing = await xenwire(['--mock', '--json', 'read', '/local/domain/0/name', '/nope']);
    // As the C tool prints what it read before the failing key.
    expect(missing.status).toBe(1);
    expect(jsonLines(missing.stdout)).toEqual([
      { path: '/local/domain/0/name', value: 'Domain-0' },
    ]);
    expect(jsonLines(missing.stderr)).toEqual([
      { error: "couldn't read path /nope", code: 'ENOENT', path: '/nope' },
    ]);
    // No daemon at all.
    expect(jsonLines((await xenwire(['read', '--json', '/x'])).stderr)).toEqual([
      { error: 'xs_open: No such file or directory', code: 'ENOENT' },
    ]);
    // Command lines it cannot make sense of.
    expect(jsonLines((await xenwire(['--json', 'bogus'])).stderr)).toEqual([
      { error: 'unknown mode bogus', code: 'EINVAL' },
    ]);
    const badOption = await xenwire(['--mock', 'ls', '--json', '-x', '/']);
    expect(jsonLines(badOption.stderr)).toEqual([
      { error: "ls: invalid option -- 'x'", code: 'EINVAL' },
    ]);
    expect(jsonLines((await xenwire(['tree', '--json'])).stderr)).toEqual([
      { error: expect.stringMatching(/^Unknown option '--json'/), code: 'EINVAL' },
    ]);
    // Without --json the same failures are the C tool's text.
    expect((await xenwire(['--mock', 'read', '/nope'])).stderr).toBe(
      "xenwire: couldn't read path /nope\n",
    );
  });

  it('keeps the C tool usage message for -h and under a xenstore-<mode> name', async () => {
    expect(await xenwire(['read', '-h'])).toEqual({
      status: 1,
      stdout: '',
      stderr: 'xenwire: Usage: xenwire read [-h] [-p] [-s] [-R] key [...]\n',
    });
    expect(await xenwire([])).toMatchObject({ status: 1, stderr: /Usage: xenwire <mode>/ });
  });
});
