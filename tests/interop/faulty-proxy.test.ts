// Xen's own clients behind `xenwire proxy` with faults: how libxenstore's tools and pyxs cope with
// error replies, split and torn frames, stalls and repeated events. What they do is written up in
// src/xenstore/faults/README.md; these tests pin it down.
import { execFile } from 'node:child_process';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { TraceRecord } from '../../src/cli/trace.ts';
import { type Served, serve } from '../../src/xenstore/server.ts';
import { startXenwire } from '../cli/run-cli.ts';
import { clientEnv, type XenInstall, xenInstall } from '../support/real-xenstored.ts';

type FaultTrace = Extract<TraceRecord, { kind: 'fault' }>;

interface Outcome {
  /** Exit status; `timedOut` when it had to be killed. */
  status: number | 'timedOut';
  stdout: string;
  stderr: string;
  ms: number;
  faults: FaultTrace[];
  /** Requests as the server got them, by type. */
  requests: string[];
}

const PYXS = `
import errno, sys
from pyxs import Client, PyXSError
op = sys.argv[1]
with Client() as c:
    if op == "read":
        print(c.read(b"/fault/a").decode())
    elif op == "write":
        c.write(b"/fault/b", b"pyxs")
        print("written")
    elif op == "commit":
        c.transaction()
        c.write(b"/fault/c", b"1")
        print("committed" if c.commit() else "commit-failed")
    elif op == "watch":
        with c.monitor() as m:
            m.watch(b"/fault", b"tok")
            events = m.wait()
            print(next(events)[0].decode())
            c.write(b"/fault/w", b"1")
            print(next(events)[0].decode())
            print(next(events)[0].decode())
`;

describe.skipIf(!xenInstall)("Xen's clients through a faulty proxy", () => {
  const install = xenInstall as XenInstall;
  let dir: string;
  let upstream: Served;
  let run = 0;

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'xenwire-faulty-'));
    upstream = await serve({ socketPath: join(dir, 'upstream.sock'), seed: { nodes: [] } });
  });
  afterAll(async () => {
    await upstream?.close();
    await rm(dir, { recursive: true, force: true });
  });

  /** Runs `program args` against a fresh proxy with `faults` in front of the server. */
  async function through(
    faults: string[],
    program: string,
    args: string[],
    timeoutMs = 8000,
  ): Promise<Outcome> {
    const listen = join(dir, `proxy${++run}.sock`);
    const trace = join(dir, `trace${run}.jsonl`);
    const proxy = startXenwire([
      'proxy',
      '--listen',
      listen,
      '--to',
      upstream.socketPath,
      '--trace',
      trace,
      '--quiet',
      ...faults,
    ]);
    await proxy.stdout.waitFor(/proxy listening/);
    const started = performance.now();
    const result = await new Promise<Omit<Outcome, 'faults' | 'requests' | 'ms'>>((resolve) => {
      execFile(
        program,
        args,
        { env: clientEnv(install, listen), encoding: 'utf8', timeout: timeoutMs },
        (error, stdout, stderr) => {
          const status = !error
            ? 0
            : error.killed
              ? ('timedOut' as const)
              : typeof error.code === 'number'
                ? error.code
                : -1;
          resolve({ status, stdout, stderr });
        },
      );
    });
    const ms = performance.now() - started;
    await proxy.stop();
    const records = (await readFile(trace, 'utf8'))
      .split('\n')
      .filter(Boolean)
      .map((line) => JSON.parse(line) as TraceRecord);
    const faultRecords = records.filter((r): r is FaultTrace => r.kind === 'fault');
    const injected = new Set(
      faultRecords.filter((f) => f.fault === 'inject' || f.fault === 'drop').map((f) => f.message),
    );
    const requests = records.flatMap((r) =>
      r.kind === 'message' && r.dir === 'client-to-server' && !injected.has(r.seq) ? [r.type] : [],
    );
    return { ...result, ms, faults: faultRecords, requests };
  }

  const tool = (name: string) => join(install.toolDir, name);
  const pyxs = (op: string) => ['-c', PYXS, op];

  beforeAll(async () => {
    const setUp = await through([], tool('xenstore-write'), ['/fault/a', 'hello']);
    expect(setUp.status).toBe(0);
  });

  it('xenstore-write gives up on an EAGAIN reply to its WRITE: no retry', async () => {
    const outcome = await through(['--inject', 'WRITE:/fault/*:EAGAIN'], tool('xenstore-write'), [
      '/fault/x',
      'v',
    ]);
    expect(outcome.status).toBe(1);
    expect(outcome.stderr).toMatch(/could not write path \/fault\/x/);
    expect(outcome.faults.filter((f) => f.fault === 'inject')).toHaveLength(1);
  });

  it('xenstore-write retries its whole transaction when the commit answers EAGAIN', async () => {
    const outcome = await through(
      ['--inject', 'TRANSACTION_END:*:EAGAIN:0.6', '--fault-seed', '4'],
      tool('xenstore-write'),
      // Two pairs: with one, the tool sends a lone WRITE, no transaction.
      ['/fault/y', 'v', '/fault/y2', 'w'],
    );
    expect(outcome.status).toBe(0);
    const injected = outcome.faults.filter((f) => f.fault === 'inject').length;
    expect(injected).toBeGreaterThan(0);
    // One transaction per try: the failed ones, then the one that committed.
    expect(outcome.requests.filter((r) => r === 'TRANSACTION_START')).toHaveLength(injected + 1);
  });

  it('xenstore-read reassembles replies split into single bytes', async () => {
    const outcome = await through(['--split', '1'], tool('xenstore-read'), ['/fault/a']);
    expect(outcome.status).toBe(0);
    expect(outcome.stdout).toBe('hello\n');
    expect(outcome.faults.some((f) => f.fault === 'split')).toBe(true);
  });

  it('xenstore-read fails cleanly on a reply torn in half', async () => {
    const outcome = await through(['--reset-after', '0'], tool('xenstore-read'), ['/fault/a']);
    expect(outcome.status).toBe(1);
    expect(outcome.faults.map((f) => f.fault)).toEqual(['reset']);
  });

  it('xenstore-read waits out a stalled reply: libxenstore has no timeout', async () => {
    const outcome = await through(['--stall', '1:1500'], tool('xenstore-read'), ['/fault/a']);
    expect(outcome.status).toBe(0);
    expect(outcome.ms).toBeGreaterThanOrEqual(1500);
  });

  it('xenstore-watch prints a duplicated event twice', async () => {
    const outcome = await through(['--duplicate-events', '1'], tool('xenstore-watch'), [
      '-n',
      '2',
      '/fault',
    ]);
    expect(outcome.status).toBe(0);
    expect(outcome.stdout).toBe('/fault\n/fault\n');
  });

  it('pyxs reassembles replies split into single bytes', async () => {
    const outcome = await through(['--split', '1'], 'python3', pyxs('read'));
    expect(outcome.status).toBe(0);
    expect(outcome.stdout).toBe('hello\n');
  });

  it('pyxs reports a failed commit and leaves the retry to its caller', async () => {
    const outcome = await through(
      ['--inject', 'TRANSACTION_END:*:EAGAIN'],
      'python3',
      pyxs('commit'),
    );
    expect(outcome.status).toBe(0);
    expect(outcome.stdout).toBe('commit-failed\n');
  });

  // The bug class: pyxs's reader thread dies on the broken connection, and the caller waits for
  // its reply forever (RVar.get has no timeout and nothing wakes it).
  it.each([
    ['a reply torn in half', '--reset-after'],
    ['a connection closed instead of answering', '--drop-after'],
  ])('pyxs hangs forever on %s', async (_what, option) => {
    const outcome = await through([option, '0'], 'python3', pyxs('read'), 4000);
    expect(outcome.status).toBe('timedOut');
    expect(outcome.stdout).toBe('');
    expect(outcome.stderr).toMatch(/Exception in thread[\s\S]*pyxs\.exceptions\.ConnectionError/);
  });

  it('pyxs hands a duplicated event to its caller as it came', async () => {
    const outcome = await through(['--duplicate-events', '1'], 'python3', pyxs('watch'), 5000);
    expect(outcome.status).toBe(0);
    expect(outcome.stdout).toBe('/fault\n/fault\n/fault/w\n');
  });

  it('xenstore-write fails cleanly on a connection closed instead of answering', async () => {
    const outcome = await through(['--drop-after', '0'], tool('xenstore-write'), ['/fault/z', 'v']);
    expect(outcome.status).toBe(1);
    expect(outcome.stderr).toMatch(/could not write path \/fault\/z/);
  });

  it('xenstore-read gives up on an EAGAIN reply to its READ as well', async () => {
    const outcome = await through(['--inject', 'READ:*:EAGAIN'], tool('xenstore-read'), [
      '/fault/a',
    ]);
    expect(outcome.status).toBe(1);
    expect(outcome.stderr).toMatch(/couldn't read path \/fault\/a/);
  });
});
