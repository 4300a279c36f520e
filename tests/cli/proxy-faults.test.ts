import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { TraceRecord } from '../../src/cli/trace.ts';
import { XenstoreClient } from '../../src/xenstore/client.ts';
import { type Served, serve } from '../../src/xenstore/server.ts';
import { startXenwire, xenwire } from './run-cli.ts';

let dir: string;
let upstream: Served;
beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), 'xenwire-proxy-faults-'));
  upstream = await serve({ socketPath: join(dir, 'upstream.sock'), seed: { nodes: [] } });
});
afterEach(async () => {
  await upstream.close();
  await rm(dir, { recursive: true, force: true });
});

async function readTrace(path: string): Promise<TraceRecord[]> {
  return (await readFile(path, 'utf8'))
    .split('\n')
    .filter(Boolean)
    .map((line) => JSON.parse(line) as TraceRecord);
}

/** The faults of a trace without their timestamps and record numbers. */
const faultsOf = (records: TraceRecord[]) =>
  records.flatMap((r) => {
    if (r.kind !== 'fault') return [];
    const { seq: _seq, time: _time, message: _message, ...fault } = r;
    return [fault];
  });

/** One client's run through a proxy with `flags`: writes, reads, a watch and a transaction. */
async function clientRun(name: string, flags: string[]) {
  const listen = join(dir, `${name}.sock`);
  const trace = join(dir, `${name}.jsonl`);
  const proxy = startXenwire([
    'proxy',
    ...['--listen', listen, '--to', upstream.socketPath, '--trace', trace, '--quiet'],
    ...flags,
  ]);
  await proxy.stdout.waitFor(/proxy listening/);
  const outcomes: string[] = [];
  const xs = await XenstoreClient.connect({ socketPath: listen, reconnect: false });
  try {
    const watch = await xs.watch('/run');
    const events = watch[Symbol.asyncIterator]();
    await events.next();
    for (let i = 0; i < 12; i++) {
      const path = `/run/${name}/${i % 3 === 0 ? 'device/x' : 'n'}${i}`;
      outcomes.push(
        await xs.write(path, String(i)).then(
          () => 'ok',
          (error: { code: string }) => error.code,
        ),
      );
      outcomes.push(
        await xs.readString(path).then(
          (value) => value,
          (error: { code: string }) => error.code,
        ),
      );
    }
  } finally {
    await xs.close();
    await proxy.stop();
  }
  return { outcomes, records: await readTrace(trace), trace, stdout: proxy.stdout.text };
}

describe('xenwire proxy with faults', () => {
  const faults = [
    '--inject',
    'WRITE:/run/*/device/*:EAGAIN:0.7',
    '--inject',
    'READ:*:EIO:0.2',
    '--split',
    '1-9',
    '--delay',
    '0-3',
    '--duplicate-events',
    '0.5',
    '--fault-seed',
    '99',
  ];

  it('applies and records seeded faults; the same seed gives the same faults', async () => {
    const first = await clientRun('a', faults);
    expect(first.stdout).toContain('faults seeded with 99');
    expect(first.records[0]).toMatchObject({ kind: 'faults', plan: { seed: 99 } });
    expect(first.outcomes).toContain('EAGAIN');
    expect(first.outcomes).toContain('EIO');
    const kinds = new Set(faultsOf(first.records).map((f) => f.fault));
    expect([...kinds].sort()).toEqual(['delay', 'duplicate', 'inject', 'split']);
    // Every fault on a request names the request's record.
    for (const fault of first.records.filter((r) => r.kind === 'fault')) {
      if (fault.dir !== 'client-to-server') continue;
      const request = first.records.find((r) => r.seq === fault.message);
      expect(request).toMatchObject({ kind: 'message', reqId: fault.reqId, type: fault.type });
    }

    // Paths differ by name; what is drawn must not.
    const again = await clientRun('b', ['--faults-from', first.trace]);
    const strip = (f: ReturnType<typeof faultsOf>) =>
      f.map((fault) => ('path' in fault ? { ...fault, path: undefined } : fault));
    expect(strip(faultsOf(again.records))).toEqual(strip(faultsOf(first.records)));
    expect(again.outcomes).toEqual(first.outcomes);

    const other = await clientRun('c', [...faults.slice(0, -1), '100']);
    expect(strip(faultsOf(other.records))).not.toEqual(strip(faultsOf(first.records)));
  }, 60_000);

  it('leaves a trace that replays without a difference: injected requests are not resent', async () => {
    const run = await clientRun('d', faults);
    await upstream.close();
    upstream = await serve({ socketPath: join(dir, 'upstream.sock'), seed: { nodes: [] } });
    const replay = await xenwire(['replay', run.trace, '--to', upstream.socketPath]);
    expect(replay.stdout).toMatch(/ 0 differences\n$/);
    expect(replay.status).toBe(0);
  }, 60_000);

  it('refuses a bad fault with status 2, naming the part', async () => {
    const bad = await xenwire([
      'proxy',
      ...['--listen', join(dir, 'p.sock'), '--to', upstream.socketPath],
      ...['--inject', 'WRITE:/x:EWHAT'],
    ]);
    expect(bad.status).toBe(2);
    expect(bad.stderr).toContain('fault inject: not a xenstore errno: "EWHAT"');
    const both = await xenwire([
      'proxy',
      ...['--listen', join(dir, 'p.sock'), '--to', upstream.socketPath],
      ...['--delay', '1', '--faults-from', join(dir, 'none.jsonl')],
    ]);
    expect(both.status).toBe(2);
  });
});

describe('xenwire serve with faults', () => {
  it('injects them into its clients and prints the seed', async () => {
    const socket = join(dir, 'served.sock');
    const server = startXenwire([
      'serve',
      ...['--socket', socket, '--inject', 'WRITE:/vm/*:EACCES', '--fault-seed', '12'],
    ]);
    await server.stdout.waitFor(/faults seeded with 12/);
    const xs = await XenstoreClient.connect({ socketPath: socket });
    try {
      await expect(xs.write('/vm/a', 'x')).rejects.toMatchObject({ code: 'EACCES' });
      await xs.write('/other', 'x');
    } finally {
      await xs.close();
      await server.stop();
    }
  });

  it('refuses a bad fault with status 2', async () => {
    const bad = await xenwire(['serve', '--socket', join(dir, 's.sock'), '--split', '0']);
    expect(bad.status).toBe(2);
    expect(bad.stderr).toContain('fault split: not an integer of at least 1: "0"');
  });
});
