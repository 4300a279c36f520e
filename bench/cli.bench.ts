/**
 * What one `xenwire read` costs, start to exit, against the floor of any Node program: `node -e 0`.
 * Xen's hotplug scripts call `xenstore-read` in loops, so a drop-in is judged per call. The command
 * is the installed one (`bin/xenwire.cjs` and its bundle, built in setup) reading one key from an
 * in-memory xenstored on a unix socket, served by this process.
 */
import { execFile } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { XenstoreServer } from '../src/xenstore/server/server.ts';
import { type Listener, socketListener } from '../src/xenstore/transport/socket-listener.ts';
import type { BenchPair, RunOptions, Sample } from './lib/types.ts';

const run = promisify(execFile);
const root = fileURLToPath(new URL('..', import.meta.url));
const launcher = join(root, 'bin', 'xenwire.cjs');

let dir: string | undefined;
let listener: Listener | undefined;
let server: XenstoreServer | undefined;
let env: NodeJS.ProcessEnv = process.env;

/** Starts `command` `calls` times, one after the other; the rate is calls per second. */
async function calls(command: readonly string[], options: RunOptions): Promise<Sample> {
  const count = options.quick ? 3 : 20;
  const started = performance.now();
  for (let i = 0; i < count; i++) {
    const { stdout } = await run(process.execPath, command, { env });
    if (command[0] === launcher && stdout !== 'one\n') throw new Error(`read printed ${stdout}`);
  }
  return { rate: count / ((performance.now() - started) / 1000) };
}

export const pairs: BenchPair[] = [
  {
    id: 'cli.read',
    title: 'one `xenwire read` call, start to exit, against `node -e 0`',
    unit: 'calls/s',
    baseline: { label: 'node -e 0', run: (options) => calls(['-e', '0'], options) },
    candidate: {
      label: 'xenwire read',
      run: (options) => calls([launcher, 'read', '/bench/key'], options),
    },
    // Issue #21: a call within 1.3× of Node's own start.
    goal: { ratio: 1 / 1.3, direction: 'at-least' },
    async setup() {
      await run(process.execPath, [join(root, 'scripts', 'build-cli.mjs')]);
      dir = await mkdtemp(join(tmpdir(), 'xenwire-bench-cli-'));
      server = new XenstoreServer({ seed: { nodes: [{ path: '/bench/key', value: 'one' }] } });
      // A daemon that sleeps between requests, as C xenstored does: a spinning one would take a
      // CPU from the process being timed.
      listener = await socketListener(server, {
        path: join(dir, 'xenstored.sock'),
        busyPoll: false,
      });
      env = { ...process.env, XENSTORED_PATH: join(dir, 'xenstored.sock') };
    },
    async teardown() {
      await listener?.close();
      server?.close();
      if (dir) await rm(dir, { recursive: true, force: true });
    },
  },
];
