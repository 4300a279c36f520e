import { mkdtemp, rm } from 'node:fs/promises';
import { createConnection, createServer, type Server, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { type FaultSpec, type Served, serve } from '../../src/xenstore/server.ts';
import { xenwire } from './run-cli.ts';

let dir: string;
const servers: Served[] = [];
const stubs: Server[] = [];
beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), 'xenwire-fuzz-'));
});
afterEach(async () => {
  for (const served of servers.splice(0)) await served.close();
  for (const stub of stubs.splice(0)) {
    stub.close();
  }
  await rm(dir, { recursive: true, force: true });
});

async function fresh(name: string, faults?: FaultSpec) {
  const served = await serve({
    socketPath: join(dir, `${name}.sock`),
    seed: { nodes: [] },
    version: '4.17',
    ...(faults && { faults }),
  });
  servers.push(served);
  return served.socketPath;
}

/**
 * A server that forwards its first `healthy` connections to `upstream`, then accepts and never
 * answers: a daemon that hung part-way through a run.
 */
async function hangsAfter(name: string, upstream: string, healthy: number): Promise<string> {
  const path = join(dir, `${name}.sock`);
  const held: Socket[] = [];
  let accepted = 0;
  const stub = createServer((client) => {
    if (++accepted > healthy) {
      held.push(client);
      return;
    }
    const server = createConnection(upstream);
    client.pipe(server).pipe(client);
    client.on('error', () => server.destroy());
    server.on('error', () => client.destroy());
    client.on('close', () => server.destroy());
  });
  stub.on('close', () => {
    for (const socket of held) socket.destroy();
  });
  await new Promise<void>((resolve) => stub.listen(path, resolve));
  stubs.push(stub);
  return path;
}

const fuzz = (reference: string, candidate: string, ...more: string[]) =>
  xenwire(['conformance', '--fuzz', '--against', reference, '--socket', candidate, ...more]);

describe('xenwire conformance --fuzz', () => {
  it('finds no difference between two alike servers', async () => {
    const result = await fuzz(await fresh('a'), await fresh('b'), '--runs', '15', '--seed', '3');
    expect(result.stdout).toContain('fuzzing 15 scripts, seed 3');
    expect(result.stdout).toContain('15 scripts: no divergence, no crash');
    expect(result.status).toBe(0);
  }, 120_000);

  it('reports a divergence, shrunk, with status 1', async () => {
    const odd = await fresh('odd', { seed: 1, inject: 'WRITE:/d/a:EIO' });
    const result = await fuzz(await fresh('ref'), odd, '--runs', '200', '--seed', '5');
    expect(result.stdout).toMatch(/Divergence on script \d+ \(seed 5/);
    expect(result.stdout).toContain('EIO');
    expect(result.stdout).toMatch(/Shrunk to \d+ steps/);
    expect(result.status).toBe(1);
  }, 120_000);

  it('tells a crash of the server under test (4) from one of the reference (3)', async () => {
    const upstream = await fresh('up');
    const ref = await fresh('ref2');
    const candidate = await fuzz(
      ref,
      await hangsAfter('deaf', upstream, 8),
      ...['--runs', '50', '--timeout', '1500'],
    );
    expect(candidate.stdout).toMatch(/The server under test \(.*deaf\.sock\) crashed on script/);
    expect(candidate.status).toBe(4);

    const reference = await fuzz(
      await hangsAfter('deafref', ref, 8),
      upstream,
      ...['--runs', '50', '--timeout', '1500'],
    );
    expect(reference.stdout).toMatch(/The reference \(.*deafref\.sock\) crashed on script/);
    expect(reference.status).toBe(3);
  }, 120_000);

  it('refuses to run without a reference, or against one it cannot reach', async () => {
    const alone = await xenwire(['conformance', '--fuzz', '--socket', await fresh('c')]);
    expect(alone.status).toBe(2);
    expect(alone.stderr).toContain('--fuzz needs --against REF_SOCKET');
    const missing = await fuzz(join(dir, 'none.sock'), await fresh('d'));
    expect(missing.status).toBe(2);
    expect(missing.stderr).toContain('cannot reach the reference');
  });
});
