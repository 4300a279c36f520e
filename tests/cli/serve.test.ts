import { type ChildProcess, execFile, spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdtemp, readFile, rm, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { XenstoreClient } from '../../src/xenstore/client.ts';
import { startRealXenstored, type XenInstall, xenInstall } from '../support/real-xenstored.ts';
import { Capture, entry, launcher, sourceCommand, xenstoreC, xenwire } from './run-cli.ts';

let dir: string;
const children: ChildProcess[] = [];
beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), 'xenwire-serve-'));
});
afterEach(async () => {
  for (const child of children.splice(0)) if (child.exitCode === null) child.kill('SIGKILL');
  await rm(dir, { recursive: true, force: true });
});

/** Runs the program's sources in a child process; resolves once it has printed `ready`. */
async function launch(args: string[], ready: RegExp) {
  const [node, ...nodeArgs] = sourceCommand();
  const child = spawn(node!, [...nodeArgs, ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
  children.push(child);
  const stdout = new Capture();
  const stderr = new Capture();
  child.stdout!.on('data', (chunk: Buffer) => stdout.write(chunk));
  child.stderr!.on('data', (chunk: Buffer) => stderr.write(chunk));
  const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
  await Promise.race([
    stdout.waitFor(ready),
    exited.then((code) => {
      throw new Error(`exited with ${code} before it was ready: ${stderr.text}`);
    }),
  ]);
  return { child, stdout, stderr, exited };
}

/** Runs `node command…` to completion. */
function run(command: string[], args: string[], env: NodeJS.ProcessEnv) {
  return new Promise<{ status: number | null; stdout: string; stderr: string }>((resolve) => {
    const [node, ...nodeArgs] = command;
    const child = spawn(node!, [...nodeArgs, ...args], { env: { ...process.env, ...env } });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (chunk) => {
      stdout += chunk;
    });
    child.stderr.on('data', (chunk) => {
      stderr += chunk;
    });
    child.on('exit', (status) => resolve({ status, stdout, stderr }));
  });
}

const BARE_TREE = '/tool = ""   (n0)\n/tool/xenstored = ""   (n0)\n';

describe('xenwire serve', () => {
  it('starts with a fresh C xenstored tree, answers, and removes its socket on SIGINT', async () => {
    const socket = join(dir, 'xenstored.sock');
    const served = await launch(['serve', '--socket', socket], /listening on/);
    expect(existsSync(socket)).toBe(true);
    const listing = await xenwire(['ls', '-fp'], socket);
    expect(listing).toEqual({ status: 0, stdout: BARE_TREE, stderr: '' });
    expect(await xenwire(['write', '/hello', 'world'], socket)).toMatchObject({ status: 0 });
    expect((await xenwire(['read', '/hello'], socket)).stdout).toBe('world\n');
    served.child.kill('SIGINT');
    expect(await served.exited).toBe(0);
    expect(existsSync(socket)).toBe(false);
  });

  it.skipIf(xenInstall === undefined)(
    'starts with the same tree as a fresh C xenstored',
    async () => {
      const install = xenInstall as XenInstall;
      const daemon = await startRealXenstored(install);
      try {
        expect((await xenstoreC(install, ['ls', '-fp'], daemon.socketPath)).stdout).toBe(BARE_TREE);
      } finally {
        await daemon.stop();
      }
    },
  );

  it('serves a seed file, guest domains on their own sockets, and a trace', async () => {
    const socket = join(dir, 'xenstored.sock');
    const seed = join(dir, 'seed.json');
    const trace = join(dir, 'trace.jsonl');
    await writeFile(seed, JSON.stringify({ nodes: [{ path: '/seeded', value: 'yes' }] }));
    const served = await launch(
      [
        'serve',
        '--socket',
        socket,
        '--seed',
        seed,
        '--guest-domains',
        '3',
        '--guest-socket-dir',
        dir,
        '--trace',
        trace,
      ],
      /domain 3 on/,
    );
    expect((await xenwire(['read', '/seeded'], socket)).stdout).toBe('yes\n');
    // A guest's relative paths are under its home, and dom0's nodes are not its to read.
    const guest = join(dir, 'dom3.sock');
    expect((await xenwire(['read', 'name'], guest)).stdout).toBe('guest3\n');
    expect(await xenwire(['read', '/seeded'], guest)).toMatchObject({
      status: 1,
      stderr: "xenwire: couldn't read path /seeded\n",
    });
    served.child.kill('SIGINT');
    expect(await served.exited).toBe(0);
    expect(await readFile(trace, 'utf8')).toContain('seeded');
  });

  it('fails transaction commits with EAGAIN at --eagain-rate 1', async () => {
    const socket = join(dir, 'xenstored.sock');
    const served = await launch(['serve', '--socket', socket, '--eagain-rate', '1'], /listening/);
    // One pair is written without a transaction, so it goes through.
    expect(await xenwire(['write', '/a', '1'], socket)).toMatchObject({ status: 0 });
    const client = await XenstoreClient.connect({ socketPath: socket });
    try {
      const tx = await client.transactionStart();
      await tx.write('/a', '2');
      await expect(tx.commit()).rejects.toMatchObject({ code: 'EAGAIN' });
    } finally {
      await client.close();
    }
    served.child.kill('SIGINT');
    expect(await served.exited).toBe(0);
  });
  it('makes the drop-in commands retry EAGAIN commits, printing their output once', async () => {
    const socket = join(dir, 'xenstored.sock');
    const trace = join(dir, 'trace.jsonl');
    const served = await launch(
      ['serve', '--socket', socket, '--eagain-rate', '0.5', '--fault-seed', '7', '--trace', trace],
      /listening/,
    );
    for (let i = 0; i < 8; i++) {
      expect(await xenwire(['write', `/r/${i}`, `v${i}`, '/r/last', `${i}`], socket)).toEqual({
        status: 0,
        stdout: '',
        stderr: '',
      });
      expect(await xenwire(['read', `/r/${i}`, '/r/last'], socket)).toEqual({
        status: 0,
        stdout: `v${i}\n${i}\n`,
        stderr: '',
      });
    }
    served.child.kill('SIGINT');
    expect(await served.exited).toBe(0);
    // Commits did fail on the way, so the output above survived retries.
    expect(await readFile(trace, 'utf8')).toContain('EAGAIN');
  });
});

describe('npm start', () => {
  const root = fileURLToPath(new URL('../..', import.meta.url));
  const npmStart = ['npm', 'start', '--silent', '--prefix', root, '--'];

  it('is xenwire serve with the Domain-0 tree: the same help and the same first lines', async () => {
    const help = await run(npmStart, ['--help'], {});
    const serveHelp = await xenwire(['serve', '--help']);
    expect(serveHelp).toMatchObject({ status: 0, stderr: '' });
    expect(help).toEqual(serveHelp);

    const socket = join(dir, 'xenstored.sock');
    // Its own process group, so that the interrupt reaches the server under npm and tsx.
    const child = spawn(npmStart[0]!, [...npmStart.slice(1), '--socket', socket, '--guests', '4'], {
      cwd: dir,
      detached: true,
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    children.push(child);
    const stdout = new Capture();
    const stderr = new Capture();
    child.stdout!.on('data', (chunk: Buffer) => stdout.write(chunk));
    child.stderr!.on('data', (chunk: Buffer) => stderr.write(chunk));
    // Closed once every process of the group has let go of the pipes.
    const closed = new Promise<void>((resolve) => child.on('close', () => resolve()));
    await stdout.waitFor(/domain 4 on/);
    expect(stdout.text).toBe(`listening on ${socket}\ndomain 4 on ${join(dir, 'dom4.sock')}\n`);
    expect(stderr.text).toBe('xenwire serve: --guests is deprecated: use --guest-domains\n');
    expect(await xenwire(['read', '/local/domain/0/name'], socket)).toEqual({
      status: 0,
      stdout: 'Domain-0\n',
      stderr: '',
    });
    expect((await xenwire(['read', 'name'], join(dir, 'dom4.sock'))).stdout).toBe('guest4\n');
    process.kill(-child.pid!, 'SIGINT');
    await closed;
    expect(stderr.text).toMatch(/xenwire serve: stopped\n$/);
    expect(existsSync(socket)).toBe(false);
  });
});

describe('the xenwire program', () => {
  it('runs from a link named xenstore-<mode> as that tool', async () => {
    const socket = join(dir, 'xenstored.sock');
    const served = await launch(['serve', '--socket', socket], /listening on/);
    const link = join(dir, 'xenstore-read');
    await symlink(entry, link);
    expect(await run(sourceCommand(link), ['-p', '/tool'], { XENSTORED_PATH: socket })).toEqual({
      status: 0,
      stdout: '/tool: \n',
      stderr: '',
    });
    expect(await run(sourceCommand(link), [], { XENSTORED_PATH: socket })).toEqual({
      status: 1,
      stdout: '',
      stderr: `xenstore-read: Usage: ${link} [-h] [-p] [-s] [-R] key [...]\n`,
    });
    served.child.kill('SIGINT');
    expect(await served.exited).toBe(0);
  });

  it('starts through the launcher, compiled or not', async () => {
    expect(
      await run([process.execPath, launcher], ['read', '--mock', '/local/domain/0/name'], {}),
    ).toEqual({
      status: 0,
      stdout: 'Domain-0\n',
      stderr: '',
    });
    // xenwire's own options may also come before the mode.
    expect(
      await run([process.execPath, launcher], ['--mock', 'read', '/local/domain/0/domid'], {}),
    ).toEqual({ status: 0, stdout: '0\n', stderr: '' });
  });

  it('ends quietly when its reader goes away, as SIGPIPE ends the C tools', async () => {
    // Far more output than a pipe holds, so that writing fails once the reader is gone.
    const seed = join(dir, 'seed.json');
    const nodes = Array.from({ length: 2000 }, (_, i) => ({
      path: `/big/n${i}`,
      value: 'v'.repeat(100),
    }));
    await writeFile(seed, JSON.stringify({ nodes }));
    const socket = join(dir, 'xenstored.sock');
    const served = await launch(['serve', '--socket', socket, '--seed', seed], /listening on/);
    const command = [...sourceCommand(), 'ls', '/big'].map((word) => `'${word}'`).join(' ');
    const result = await new Promise<{ stdout: string; stderr: string }>((resolve) => {
      const script = `${command} | head -c 1 >/dev/null; echo "\${PIPESTATUS[0]}"`;
      const env = { ...process.env, XENSTORED_PATH: socket };
      execFile('bash', ['-c', script], { env }, (_error, stdout, stderr) =>
        resolve({ stdout, stderr }),
      );
    });
    expect(result).toEqual({ stdout: '141\n', stderr: '' });
    served.child.kill('SIGINT');
    expect(await served.exited).toBe(0);
  });
});

describe('xenwire snapshot and serve --load', () => {
  it.skipIf(xenInstall === undefined)(
    "replays a C daemon's store in the mock: same tree and permissions",
    async () => {
      const install = xenInstall as XenInstall;
      const daemon = await startRealXenstored(install);
      const stream = join(dir, 'host.xsm');
      try {
        const c = daemon.socketPath;
        await xenstoreC(install, ['write', '/vm/1/name', 'guest', '/vm/1/bytes', 'a b'], c);
        await xenstoreC(install, ['chmod', '/vm/1', 'n0', 'r3'], c);
        await daemon.createGuest(3, 33);
        await xenwire(['control', 'print', 'x'], c);
        const client = await XenstoreClient.connect({ socketPath: c });
        await client.introduceDomain(3, 3, 33);
        await client.close();
        const taken = await xenwire(['snapshot', '--to', stream], c);
        expect(taken).toMatchObject({
          status: 0,
          stdout: expect.stringMatching(/^\d+ nodes written/),
        });
        const original = await xenstoreC(install, ['ls', '-fp'], c);
        const socket = join(dir, 'loaded.sock');
        const served = await launch(
          ['serve', '--socket', socket, '--load', stream],
          /listening on/,
        );
        expect((await xenstoreC(install, ['ls', '-fp'], socket)).stdout).toBe(original.stdout);
        const loaded = await XenstoreClient.connect({ socketPath: socket });
        expect(await loaded.isDomainIntroduced(3)).toBe(true);
        await loaded.close();
        served.child.kill('SIGINT');
        expect(await served.exited).toBe(0);
      } finally {
        await daemon.stop();
      }
    },
    60_000,
  );

  it('refuses a file that is no migration stream, naming the offset', async () => {
    const file = join(dir, 'bad.xsm');
    await writeFile(file, 'xenstore\0\0\0\x02');
    const [node, ...nodeArgs] = sourceCommand();
    const result = await run(
      [node!, ...nodeArgs],
      ['serve', '--socket', join(dir, 's'), '--load', file],
      {},
    );
    expect(result.status).not.toBe(0);
    expect(result.stderr).toMatch(/migration stream, offset 0/);
  });
});
