import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { main } from '../../src/cli/main.ts';
import { Capture, serveInTempDir, startXenwire, type TempServer, xenwire } from './run-cli.ts';

describe('xenwire tree', () => {
  let server: TempServer;
  let socket: string;

  beforeAll(async () => {
    server = await serveInTempDir('tree');
    socket = server.socket;
    expect((await xenwire(['write', '/t/a', '1', '/t/b/c', '2', '/t/d', 'x'], socket)).status).toBe(
      0,
    );
  });
  afterAll(() => server.stop());

  const TREE = '/t\n├── a = "1"\n├── b\n│   └── c = "2"\n└── d = "x"\n';

  it('prints a subtree without colour when stdout is not a terminal', async () => {
    expect(await xenwire(['tree', '/t'], socket)).toEqual({ status: 0, stdout: TREE, stderr: '' });
  });

  it('colours names and values with --color', async () => {
    const { stdout } = await xenwire(['tree', '/t', '--color'], socket);
    expect(stdout).toContain('\x1b[1;34mc\x1b[0m');
    expect(stdout).toContain('\x1b[32m"2"\x1b[0m');
    expect(stdout.replace(/\x1b\[[0-9;]*m/g, '')).toBe(TREE);
  });

  it('prints the subtree again, after the changed path, each time a watch fires', async () => {
    const env = { ...process.env, XENSTORED_PATH: socket };
    const tree = startXenwire(['tree', '/t', '--watch', '--count', '2'], env);
    await tree.stdout.waitFor(/d = "x"/);
    expect((await xenwire(['write', '/t/a', 'changed'], socket)).status).toBe(0);
    await tree.stdout.waitFor(/a = "changed"/);
    expect((await xenwire(['rm', '/t/b'], socket)).status).toBe(0);
    expect(await tree.status).toBe(0);
    expect(tree.stdout.text).toBe(
      `${TREE}--- changed: /t/a\n${TREE.replace('"1"', '"changed"')}` +
        '--- changed: /t/b\n/t\n├── a = "changed"\n└── d = "x"\n',
    );
  });

  it('redraws in place on a terminal, highlighting what changed', async () => {
    expect((await xenwire(['write', '/tty/a', '1', '/tty/b', '2'], socket)).status).toBe(0);
    const stdout = new Capture(true, 80);
    const env = { ...process.env, XENSTORED_PATH: socket };
    const status = main(['tree', '/tty', '--watch', '--count', '1'], {
      stdout,
      stderr: new Capture(),
      env,
    });
    await stdout.waitFor(/"2"/);
    expect((await xenwire(['write', '/tty/b', '3'], socket)).status).toBe(0);
    expect(await status).toBe(0);
    const [first, second] = stdout.text.split('\x1b[H\x1b[2J');
    expect(first).toContain('\x1b[1;34mb\x1b[0m');
    expect(second).toContain('\x1b[1;33mb\x1b[0m');
    expect(second).toContain('\x1b[1;34ma\x1b[0m');
  });

  it('stops watching when interrupted', async () => {
    const env = { ...process.env, XENSTORED_PATH: socket };
    const tree = startXenwire(['tree', '/t', '--watch'], env);
    await tree.stdout.waitFor(/d = "x"/);
    expect(await tree.stop()).toBe(0);
  });

  it('says so when the path does not exist', async () => {
    expect(await xenwire(['tree', '/nope'], socket)).toEqual({
      status: 1,
      stdout: '/nope: No such file or directory\n',
      stderr: '',
    });
  });
});
