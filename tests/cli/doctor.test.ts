import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { serveInTempDir, sourceCommand, type TempServer, xenwire } from './run-cli.ts';

interface Report {
  ok: boolean;
  checks: { name: string; status: 'ok' | 'unavailable' | 'fail'; detail: string; hint?: string }[];
}

const devices = ['/dev/xen/xenbus', '/dev/xen/evtchn', '/dev/xen/gntdev', '/dev/xen/gntalloc'];
const onXen = devices.slice(1).some((path) => existsSync(path));

function check(report: Report, name: string) {
  const found = report.checks.find((c) => c.name === name);
  expect(found, name).toBeDefined();
  return found!;
}

describe('xenwire doctor', () => {
  let server: TempServer;
  let socket: string;

  beforeAll(async () => {
    server = await serveInTempDir('doctor', '--dom0-tree');
    socket = server.socket;
  });
  afterAll(() => server.stop());

  it('reports the daemon it finds and its answer, and exits 0 when nothing needed is missing', async () => {
    const result = await xenwire(['doctor', '--json'], socket);
    const report = JSON.parse(result.stdout) as Report;
    expect(check(report, 'Node.js')).toMatchObject({ status: 'ok' });
    expect(check(report, 'Node.js').detail).toContain(process.version);
    expect(check(report, 'xenstored')).toMatchObject({
      status: 'ok',
      detail: expect.stringContaining(
        `${socket} ($XENSTORED_PATH): GET_DOMAIN_PATH 0 is /local/domain/0`,
      ),
    });
    for (const path of devices) {
      expect(check(report, path).status === 'unavailable').toBe(!existsSync(path));
    }
    expect(report.ok).toBe(report.checks.every((c) => c.status !== 'fail'));
    expect(result.status).toBe(report.ok ? 0 : 1);
  });

  it('fails without a daemon, saying how to get one, in text and in JSON', async () => {
    const missing = join(server.dir, 'nothing.sock');
    const text = await xenwire(['doctor'], missing);
    expect(text.status).toBe(1);
    expect(text.stdout).toMatch(/^FAIL +xenstored +none found/m);
    expect(text.stdout).toMatch(/→ set XENSTORED_PATH to its socket, or run one: xenwire serve/);
    expect(text.stdout).toMatch(/^Needed and not working: xenstored\.$/m);
    const report = JSON.parse((await xenwire(['--json', 'doctor'], missing)).stdout) as Report;
    expect(report.ok).toBe(false);
    expect(check(report, 'xenstored').status).toBe('fail');
  });

  it('names the build command a consumer project can run when the addon is missing', () => {
    const [node, ...nodeArgs] = sourceCommand();
    const result = spawnSync(node!, [...nodeArgs, 'doctor', '--json'], {
      encoding: 'utf8',
      env: { ...process.env, XENSTORED_PATH: socket, XENWIRE_NATIVE_ADDON: '/nonexistent.node' },
    });
    const report = JSON.parse(result.stdout) as Report;
    expect(check(report, 'native addon')).toMatchObject({
      // Needed on Xen only, where the devices it drives are.
      status: onXen ? 'fail' : 'unavailable',
      detail: expect.stringContaining('not built'),
      hint: expect.stringContaining('npm rebuild xenwire'),
    });
    expect(result.status).toBe(report.ok ? 0 : 1);
  });
});
