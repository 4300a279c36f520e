import { execFile, spawn } from 'node:child_process';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { clientEnv, type XenInstall, xenInstall } from '../support/real-xenstored.ts';

const execFileAsync = promisify(execFile);
const pyxsScenario = fileURLToPath(new URL('./pyxs-scenario.py', import.meta.url));

/** A xenstored under test, reached through a unix socket. */
export interface ServerUnderTest {
  socketPath: string;
  stop(): Promise<void>;
}

interface ToolRun {
  code: number;
  stdout: string;
  stderr: string;
}

const TEST_XENSTORE_CASES = [
  'read 1',
  'read 2000',
  'write 1',
  'write 2000',
  'dir',
  'rm node',
  'rm dir',
  'ta empty',
  'ta empty x',
  'ta rmw',
  'ta rmw x',
  'ta err',
];

/**
 * One interop suite for every server: Xen's own clients (test-xenstore, the `xenstore-*` tools,
 * pyxs) must see the same results from the real C daemon and from ours.
 */
export function describeClientInterop(
  label: string,
  start: () => Promise<ServerUnderTest>,
  skip = false,
): void {
  describe.skipIf(!xenInstall || skip)(`Xen clients against ${label}`, () => {
    const install = xenInstall as XenInstall;
    let server: ServerUnderTest;
    let env: NodeJS.ProcessEnv;

    beforeAll(async () => {
      server = await start();
      env = clientEnv(install, server.socketPath);
    });
    afterAll(async () => {
      await server?.stop();
    });

    async function run(file: string, args: string[]): Promise<ToolRun> {
      try {
        const { stdout, stderr } = await execFileAsync(file, args, { env, timeout: 20_000 });
        return { code: 0, stdout, stderr };
      } catch (error) {
        const failed = error as { code?: number; stdout?: string; stderr?: string };
        return {
          code: typeof failed.code === 'number' ? failed.code : -1,
          stdout: failed.stdout ?? '',
          stderr: failed.stderr ?? String(error),
        };
      }
    }

    const tool = (name: string, ...args: string[]) => run(join(install.toolDir, name), args);

    it('passes all of test-xenstore', async () => {
      const result = await run(join(install.xenBinDir, 'test-xenstore'), []);
      expect(result.stderr).toBe('');
      expect(result.code).toBe(0);
      const names = result.stdout
        .trimEnd()
        .split('\n')
        .map((line) => {
          const match = /^(.+?)\s*: \d+ ns$/.exec(line);
          expect(match, line).not.toBeNull();
          return match![1];
        });
      expect(names).toEqual(TEST_XENSTORE_CASES);
    });

    it('serves the xenstore-* tools', async () => {
      expect(await tool('xenstore-write', '/tools/a', 'hello', '/tools/b', 'two words')).toEqual({
        code: 0,
        stdout: '',
        stderr: '',
      });
      expect((await tool('xenstore-read', '/tools/a', '/tools/b')).stdout).toBe(
        'hello\ntwo words\n',
      );
      expect((await tool('xenstore-read', '-p', '/tools/a')).stdout).toBe('/tools/a: hello\n');
      expect((await tool('xenstore-exists', '/tools/a')).code).toBe(0);
      expect((await tool('xenstore-exists', '/tools/missing')).code).toBe(1);
      expect((await tool('xenstore-list', '/tools')).stdout).toBe('a\nb\n');
      expect((await tool('xenstore-ls', '/tools')).stdout).toBe('a = "hello"\nb = "two words"\n');
      expect((await tool('xenstore-chmod', '/tools/a', 'b0', 'r5')).code).toBe(0);
      expect((await tool('xenstore-ls', '-p', '/tools')).stdout).toBe(
        'a = "hello"  . . . . . . . . . . . . . . . . . . . . . . . .  (b0,r5)\n' +
          'b = "two words"  . . . . . . . . . . . . . . . . . . . . . .  (n0)\n',
      );
      expect((await tool('xenstore-rm', '/tools/b')).code).toBe(0);
      expect((await tool('xenstore-list', '/tools')).stdout).toBe('a\n');
      const missing = await tool('xenstore-read', '/tools/b');
      expect(missing.code).toBe(1);
      expect(missing.stderr).toBe("xenstore-read: couldn't read path /tools/b\n");
    });

    it('delivers watch events to xenstore-watch', async () => {
      const watcher = spawn(join(install.toolDir, 'xenstore-watch'), ['-n', '2', '/tools/w'], {
        env,
      });
      let output = '';
      const registered = new Promise<void>((resolve) => {
        watcher.stdout.on('data', (chunk: Buffer) => {
          output += chunk.toString();
          if (output.includes('\n')) resolve();
        });
      });
      const exited = new Promise<number | null>((resolve) => watcher.on('close', resolve));
      await registered;
      await tool('xenstore-write', '/tools/w/x', '1');
      expect(await exited).toBe(0);
      expect(output).toBe('/tools/w\n/tools/w/x\n');
    });

    it('serves the pyxs client scenario', async () => {
      const result = await run('python3', [pyxsScenario, server.socketPath]);
      expect(result.stderr).toBe('');
      expect(JSON.parse(result.stdout)).toEqual({
        read: 'one',
        list: ['a', 'dir'],
        exists: [true, false],
        readMissing: 'ENOENT',
        invalidPathByServer: 'EINVAL',
        perms: ['b0', 'r5'],
        permsInherited: ['n0'],
        listAfterRm: ['a'],
        events: [
          ['/pyxs/w', 'tok'],
          ['/pyxs/w/x', 'tok'],
        ],
        invisibleOutside: false,
        commit: true,
        afterCommit: '1',
        conflictCommit: false,
        afterConflict: '3',
        afterRollback: false,
        domainPath: '/local/domain/7',
        domainIntroduced: false,
      });
    });
  });
}
