import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { TraceRecord } from '../../src/cli/trace.ts';
import { startRealXenstored, type XenInstall, xenInstall } from '../support/real-xenstored.ts';
import { type CliResult, startXenwire, xenstoreC, xenwire } from './run-cli.ts';

let dir: string;
let stops: (() => Promise<unknown>)[];
beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), 'xenwire-replay-'));
  stops = [];
});
afterEach(async () => {
  for (const stop of stops.reverse()) await stop();
  await rm(dir, { recursive: true, force: true });
});

let sockets = 0;
/** `xenwire serve` in-process on a new socket; stopped after the test. */
async function serveMock(...flags: string[]): Promise<string> {
  const socket = join(dir, `mock${++sockets}.sock`);
  const served = startXenwire(['serve', '--socket', socket, ...flags]);
  stops.push(() => served.stop());
  await served.stdout.waitFor(/listening on/);
  return socket;
}

/** Starts a recording proxy in front of `target`, listening on its own socket. */
async function startProxy(target: string) {
  const listen = join(dir, 'proxy.sock');
  const trace = join(dir, 'trace.jsonl');
  const proxy = startXenwire([
    'proxy',
    '--listen',
    listen,
    '--to',
    target,
    '--trace',
    trace,
    '--quiet',
  ]);
  await proxy.stdout.waitFor(/proxy listening/);
  return { listen, trace, proxy };
}

/** Runs `commands` through a recording proxy in front of `target`; returns the trace path. */
async function record(
  target: string,
  commands: readonly string[][],
  run: (args: string[], socket: string) => Promise<CliResult>,
): Promise<string> {
  const { listen, trace, proxy } = await startProxy(target);
  for (const args of commands) await run(args, listen);
  expect(await proxy.stop()).toBe(0);
  return trace;
}

function summary(result: CliResult): { requests: number; differences: number } {
  const match = result.stdout.match(/^(\d+) requests, (\d+) differences$/m);
  expect(match, result.stdout).not.toBeNull();
  return { requests: Number(match![1]), differences: Number(match![2]) };
}

const session = [
  ['write', '/vm/a', 'one', '/vm/b', 'two'],
  ['read', '/vm/a', '/vm/b'],
  ['ls', '-p', '/vm'],
  ['chmod', '-r', '/vm', 'b0', 'r1'],
  ['watch', '-n', '1', '/vm/a'],
  ['rm', '-t', '/vm/b'],
  ['list', '-p', '/vm'],
  ['exists', '/vm/b'],
];

describe('xenwire replay', () => {
  it('finds no difference on an identical server and reports injected faults', async () => {
    const trace = await record(await serveMock(), session, (args, socket) => xenwire(args, socket));
    const same = await xenwire(['replay', trace, '--to', await serveMock()]);
    expect(same.status, same.stdout).toBe(0);
    expect(summary(same)).toEqual({ requests: expect.any(Number), differences: 0 });
    expect(summary(same).requests).toBeGreaterThan(session.length * 2);

    const failing = await xenwire(['replay', trace, '--to', await serveMock('--eagain-rate', '1')]);
    expect(failing.status).toBe(1);
    expect(failing.stdout).toMatch(
      /TRANSACTION_END: recorded TRANSACTION_END "OK", replayed ERROR EAGAIN/,
    );
    expect(summary(failing).differences).toBeGreaterThan(0);
  });

  it('maps recorded transaction ids to the ones the server hands out', async () => {
    const trace = await record(await serveMock(), session, (args, socket) => xenwire(args, socket));
    // Shift every recorded transaction id, as if another server had handed out others.
    const shifted = (await readFile(trace, 'utf8'))
      .split('\n')
      .filter(Boolean)
      .map((line) => {
        const r = JSON.parse(line) as TraceRecord;
        if (r.kind !== 'message') return line;
        const txId = r.txId === 0 ? 0 : r.txId + 1000;
        if (r.type !== 'TRANSACTION_START' || r.dir !== 'server-to-client') {
          return JSON.stringify({ ...r, txId });
        }
        const id = Number.parseInt(Buffer.from(r.payload, 'base64').toString(), 10) + 1000;
        return JSON.stringify({ ...r, txId, payload: Buffer.from(`${id}\0`).toString('base64') });
      });
    expect(shifted.join('\n')).toMatch(/"txId":10\d\d/);
    await writeFile(trace, `${shifted.join('\n')}\n`);
    const result = await xenwire(['replay', trace, '--to', await serveMock()]);
    expect(result.stdout).toMatch(/^\d+ requests, 0 differences\n$/);
    expect(result.status).toBe(0);
  });

  it('compares watch events across connections, and reports a changed one', async () => {
    const { listen, trace, proxy } = await startProxy(await serveMock());
    // One connection watches while another writes: the event crosses connections.
    const watcher = startXenwire(['watch', '-n', '2', '/w'], {
      ...process.env,
      XENSTORED_PATH: listen,
    });
    await watcher.stdout.waitFor(/^\/w\n/);
    expect((await xenwire(['write', '/w/x', '1'], listen)).status).toBe(0);
    expect(await watcher.status).toBe(0);
    expect(watcher.stdout.text).toBe('/w\n/w/x\n');
    expect(await proxy.stop()).toBe(0);

    const clean = await xenwire(['replay', trace, '--to', await serveMock()]);
    expect(clean.stdout).toMatch(/^\d+ requests, 0 differences\n$/);

    const lines = (await readFile(trace, 'utf8')).split('\n').filter(Boolean);
    const forged = lines.map((line) => {
      const r = JSON.parse(line) as TraceRecord;
      if (r.kind !== 'message' || r.type !== 'WATCH_EVENT' || r.path !== '/w/x') return line;
      const token = r.token ?? '';
      return JSON.stringify({ ...r, payload: Buffer.from(`/w/y\0${token}\0`).toString('base64') });
    });
    await writeFile(trace, `${forged.join('\n')}\n`);
    const changed = await xenwire(['replay', trace, '--to', await serveMock()]);
    expect(changed.status).toBe(1);
    expect(changed.stdout).toMatch(
      /watch ".*": recorded events \[\/w, \/w\/y\], replayed \[\/w, \/w\/x\]/,
    );
    expect(summary(changed).differences).toBe(1);
  });

  it('refuses a trace that is empty, holds no request, or has a broken line, saying where', async () => {
    const trace = join(dir, 'bad.jsonl');
    const request = {
      kind: 'message',
      seq: 2,
      time: '2025-01-01T00:00:00.000Z',
      conn: 1,
      dir: 'client-to-server',
      typeNumber: 2,
      reqId: 1,
      txId: 0,
      payload: Buffer.from('/x\0').toString('base64'),
      type: 'READ',
    };
    const open = { kind: 'open', seq: 1, time: request.time, conn: 1 };
    const cases: [content: string, message: string][] = [
      ['', `${trace}: the trace is empty: nothing to replay`],
      ['\n\n', `${trace}: the trace is empty: nothing to replay`],
      [`${JSON.stringify(open)}\n`, `${trace}: the trace holds no request: nothing to replay`],
      [`${JSON.stringify(open)}\n{"kind":\n`, `${trace}:2: not JSON`],
      [`${JSON.stringify(open)}\n[1,2]\n`, `${trace}:2: not a trace record`],
      ['{"kind":"hello","conn":1}\n', `${trace}:1: "kind" is "hello", not open, close, message`],
      [`${JSON.stringify({ ...request, dir: 'sideways' })}`, `${trace}:1: "dir" is "sideways"`],
      [`${JSON.stringify({ ...request, reqId: -1 })}`, `${trace}:1: "reqId" is not a 32-bit`],
      [`${JSON.stringify({ ...request, payload: 'no base64!' })}`, `${trace}:1: "payload" is not`],
      [`${JSON.stringify({ ...request, conn: 'a' })}`, `${trace}:1: "conn" is not a connection`],
      [
        `${JSON.stringify({ kind: 'faults', conn: 0, plan: { seed: -1, inject: [] } })}`,
        `${trace}:1: "plan.seed" is not a 32-bit`,
      ],
      [
        `${JSON.stringify({ kind: 'fault', conn: 1, fault: 'inject', message: 'x' })}`,
        `${trace}:1: "message" is not a record number`,
      ],
    ];
    for (const [content, message] of cases) {
      await writeFile(trace, content);
      const result = await xenwire(['replay', trace, '--to', join(dir, 'unused.sock')]);
      expect(result, content).toMatchObject({ status: 2, stdout: '' });
      expect(result.stderr, content).toContain(`xenwire replay: ${message}`);
    }
    // The well-formed request alone gets as far as connecting.
    await writeFile(trace, `${JSON.stringify(request)}\n`);
    const unreachable = await xenwire(['replay', trace, '--to', join(dir, 'unused.sock')]);
    expect(unreachable).toMatchObject({ status: 1, stderr: /cannot connect to/ });
    expect(await xenwire(['replay', join(dir, 'missing.jsonl')])).toMatchObject({
      status: 2,
      stderr: /cannot read trace: ENOENT/,
    });
  });

  describe.skipIf(xenInstall === undefined)('with traces of the C tools on the real daemon', () => {
    const install = xenInstall as XenInstall;

    async function recordReal(): Promise<string> {
      const daemon = await startRealXenstored(install);
      stops.push(() => daemon.stop());
      return record(daemon.socketPath, session, (args, socket) => xenstoreC(install, args, socket));
    }

    async function freshReal(): Promise<string> {
      const daemon = await startRealXenstored(install);
      stops.push(() => daemon.stop());
      return daemon.socketPath;
    }

    it('replays onto a fresh real daemon without differences', async () => {
      const trace = await recordReal();
      const result = await xenwire(['replay', trace, '--to', await freshReal()]);
      expect(result.stdout).toMatch(/^\d+ requests, 0 differences\n$/);
      expect(result.status).toBe(0);
    });

    it('reports a reply changed in the trace, and only that one', async () => {
      const trace = await recordReal();
      const records = (await readFile(trace, 'utf8')).split('\n').filter(Boolean);
      const index = records.findIndex((line) => {
        const r = JSON.parse(line) as TraceRecord;
        return r.kind === 'message' && r.dir === 'server-to-client' && r.type === 'READ';
      });
      const changed = {
        ...JSON.parse(records[index]!),
        payload: Buffer.from('forged').toString('base64'),
      };
      records[index] = JSON.stringify(changed);
      await writeFile(trace, `${records.join('\n')}\n`);
      const result = await xenwire(['replay', trace, '--to', await freshReal()]);
      expect(result.status).toBe(1);
      expect(summary(result).differences).toBe(1);
      expect(result.stdout).toMatch(/READ \/vm\/a: recorded READ "forged", replayed READ "one"/);
    });

    it('replays onto the in-memory xenstored, and reports its commit faults', async () => {
      const trace = await recordReal();
      const mock = await xenwire(['replay', trace, '--to', await serveMock()]);
      expect(mock.status, mock.stdout).toBe(summary(mock).differences > 0 ? 1 : 0);
      const faulty = await xenwire([
        'replay',
        trace,
        '--to',
        await serveMock('--eagain-rate', '1'),
      ]);
      expect(faulty.status).toBe(1);
      expect(summary(faulty).differences).toBeGreaterThan(summary(mock).differences);
      expect(faulty.stdout).toMatch(/replayed ERROR EAGAIN/);
    });
  });
});
