import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { main } from '../../src/cli/main.ts';
import { Capture, serveInTempDir, type TempServer, xenwire } from './run-cli.ts';

/** `--json` output and terminal-dependent behaviour, on an in-memory xenstored. */
describe('xenwire output', () => {
  let server: TempServer;
  let socket: string;

  beforeAll(async () => {
    server = await serveInTempDir('output');
    socket = server.socket;
    const long = 'v'.repeat(150);
    expect(
      (await xenwire(['write', '/j/text', 'hi', '/j/bin', '\\xff\\001', '/j/long', long], socket))
        .status,
    ).toBe(0);
  });
  afterAll(() => server.stop());

  const lines = (text: string) =>
    text
      .trim()
      .split('\n')
      .map((line) => JSON.parse(line));

  it('read --json gives text values as text and binary ones as base64', async () => {
    const { status, stdout } = await xenwire(['read', '--json', '/j/text', '/j/bin'], socket);
    expect(status).toBe(0);
    expect(lines(stdout)).toEqual([
      { path: '/j/text', value: 'hi' },
      { path: '/j/bin', base64: Buffer.from([0xff, 1]).toString('base64') },
    ]);
  });

  it('list --json and ls --json give one JSON line per path or node', async () => {
    expect(lines((await xenwire(['list', '--json', '/j'], socket)).stdout)).toEqual([
      { path: '/j', children: ['text', 'bin', 'long'] },
    ]);
    const nodes = lines((await xenwire(['ls', '--json', '-p', '/j'], socket)).stdout);
    expect(nodes[0]).toEqual({ path: '/j/text', value: 'hi', perms: ['n0'] });
    expect(nodes).toHaveLength(3);
  });

  it('watch --json gives the changed path and the watched key', async () => {
    const result = await xenwire(['watch', '--json', '-n', '1', '/j'], socket);
    expect(lines(result.stdout)).toEqual([{ path: '/j', watch: '/j' }]);
  });

  it('--json is refused where the C tool has no output to change, with a JSON error', async () => {
    const refused = await xenwire(['write', '--json', '/j/x', '1'], socket);
    expect(refused.status).toBe(1);
    expect(lines(refused.stderr)).toEqual([
      { error: 'Usage: xenwire write [-h] [-s] [-R] key value [...]', code: 'EINVAL' },
    ]);
  });

  async function ls(stdout: Capture, stderr: Capture) {
    const env = { ...process.env, XENSTORED_PATH: socket };
    expect(await main(['ls', '/j'], { stdout, stderr, env })).toBe(0);
  }

  it('ls cuts lines to the terminal width, as the C tool does', async () => {
    const stdout = new Capture(true, 40);
    await ls(stdout, new Capture());
    // Width 38: 26 characters of the value fit after `long = "`, then `\...`.
    expect(stdout.text.split('\n')[2]).toBe(`long = "${'v'.repeat(26)}\\..."`);
  });

  it('ls counts nodes on stderr only when stderr is a terminal and stdout is not', async () => {
    const quiet = new Capture();
    await ls(new Capture(), quiet);
    expect(quiet.text).toBe('');
    const sameTerminal = new Capture(true, 80);
    await ls(new Capture(true, 80), sameTerminal);
    expect(sameTerminal.text).toBe('');
    const terminal = new Capture(true, 80);
    await ls(new Capture(), terminal);
    expect(terminal.text).toMatch(/^\r\x1b\[K\d+ nodes.*\r\x1b\[K$/s);
  });
});
