import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type MockServer, startMock } from '../conformance/support.ts';
import { xenwire } from './run-cli.ts';

describe('xenwire conformance', () => {
  let mock: MockServer;
  let guests: string[];
  beforeAll(async () => {
    mock = await startMock();
    guests = ['--guest-socket-template', join(mock.dir, 'dom{domid}.sock')];
  });
  afterAll(async () => {
    await mock.stop();
  });
  const run = (args: string[]) =>
    xenwire(['conformance', '--socket', mock.served.socketPath, ...args]);

  it('prints a TAP report and exits 0 when every selected check passes', async () => {
    const { status, stdout } = await run([...guests, '--only', 'tree,quotas.permissions-per-node']);
    expect(status).toBe(0);
    expect(stdout).toMatch(/^TAP version 14\n/);
    expect(stdout).toContain('1..31\n');
    expect(stdout).toMatch(/^ok \d+ - quotas\.permissions-per-node$/m);
    // A check with a hazard goes last.
    expect(stdout).toContain('ok 31 - tree.rm-root-einval\n');
    expect(stdout).toMatch(
      /# passed 31, known differences 0, failed 0, stale expectations 0, skipped 0\n$/,
    );
  });

  it('skips the guest checks without a guest option', async () => {
    const { status, stdout } = await run(['--only', 'quotas.permissions-per-node']);
    expect(status).toBe(0);
    expect(stdout).toContain('ok 1 - quotas.permissions-per-node # SKIP needs guest connections');
  });

  it('exits 1 for a failure, and 0 once the expectations list it', async () => {
    // A server whose node-size quota is not C's default fails the check of that default.
    const small = await startMock({ quotas: { nodeSize: 1024 } });
    try {
      const args = [
        'conformance',
        '--socket',
        small.served.socketPath,
        '--guest-socket-template',
        join(small.dir, 'dom{domid}.sock'),
        '--only',
        'quotas.node-size-limit',
      ];
      expect((await xenwire(args)).status).toBe(1);
      const file = join(small.dir, 'expect.json');
      writeFileSync(
        file,
        JSON.stringify({
          implementation: 'small',
          description: 'a 1024-byte node-size quota',
          knownFailures: { 'quotas.node-size-limit': { reason: 'smaller quota' } },
        }),
      );
      const known = await xenwire([...args, '--expect', file]);
      expect(known.status).toBe(0);
      expect(known.stdout).toContain('not ok 1 - quotas.node-size-limit # TODO known difference');
    } finally {
      await small.stop();
    }
  });

  it('exits 1 for a stale expectation from --expect', async () => {
    const file = join(mkdtempSync(join(tmpdir(), 'xenwire-expect-')), 'stale.json');
    writeFileSync(
      file,
      JSON.stringify({
        implementation: 'mine',
        description: 'claims a bug it does not have',
        knownFailures: { 'tree.write-then-read': { reason: 'imagined' } },
      }),
    );
    const { status, stdout } = await run(['--only', 'tree.write-then-read', '--expect', file]);
    expect(status).toBe(1);
    expect(stdout).toContain('listed as a known failure, but passes');
  });

  it('writes JUnit and JSON', async () => {
    const junit = await run(['--only', 'wire.ok-payload', '--format', 'junit']);
    expect(junit.stdout).toContain('<testcase classname="wire" name="wire.ok-payload"');
    const json = await run(['--only', 'wire.ok-payload', '--format', 'json']);
    expect(JSON.parse(json.stdout).summary).toMatchObject({ total: 1, pass: 1 });
  });

  it('lists the catalogue', async () => {
    const { status, stdout } = await xenwire(['conformance', '--list', '--only', 'control.check']);
    expect(status).toBe(0);
    expect(stdout).toBe('control.check\tc-4.17\tCONTROL check answers OK\n');
  });

  it.each([
    [['--format', 'xml'], /--format is tap, junit or json, not xml/],
    [['--guest-ring', '/tmp', '--guest-socket-template', '/tmp/{domid}'], /not both/],
    [
      ['--implementation', 'nope'],
      /--implementation is c-4\.17\|oxenstored-4\.17\|xenwire, not nope/,
    ],
    [['--expect', '/nonexistent.json'], /\/nonexistent\.json: ENOENT/],
    [['--guest-domids', '1,0,2'], /--guest-domids takes guest domids/],
    [['--guest-socket-template', '/tmp/no-placeholder.sock'], /lacks \{domid\}/],
    [['--bogus'], /Unknown option '--bogus'/],
    [['--guest-ring', '/tmp'], /\/tmp is no shim directory/],
  ])('refuses %j', async (args, message) => {
    const { status, stderr } = await run(args);
    expect(stderr).toMatch(message);
    expect(status).not.toBe(0);
  });
});
