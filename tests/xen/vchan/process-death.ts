/**
 * A libxenvchan end's process killed (SIGKILL, so none of its own code runs), both ways between
 * xenwire and Xen's C library, in Dom0 (libxenvchan serves a domain's own processes too). What
 * tells the survivor is the kernel: each end registered an unmap notification on its shared page
 * (clear its live byte, notify the port), which the kernel runs when the dead process's mappings
 * go.
 *
 * 1. Xen's `vchan-socket-proxy` server killed: xenwire's client must see the end of the stream.
 * 2. A xenwire server (server-child.dom0.ts) killed: the C client must notice and exit.
 *
 * Run inside the lane's Dom0 session, by vchan-console.dom0.ts while its DomU boots.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { once } from 'node:events';
import { openVchanClient } from '../../../src/vchan/index.ts';
import type { DevicePlatform } from '../../../src/xenbus/index.ts';
import type { XenstoreClient } from '../../../src/xenstore/index.ts';
import type { CTools } from './c-peer.ts';

function startProxy(tools: CTools, mode: 'server' | 'client', path: string): ChildProcess {
  return spawn(tools.proxy, ['--mode', mode, '0', path, '-'], {
    stdio: ['pipe', 'pipe', 'inherit'],
    env: { ...process.env, LD_LIBRARY_PATH: tools.libraryPath },
  });
}

/** Resolves with how many seconds `event` took, or fails after `limitMs` naming `what`. */
async function within<T>(event: Promise<T>, limitMs: number, what: string): Promise<number> {
  const started = Date.now();
  let timer: ReturnType<typeof setTimeout> | undefined;
  const late = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`${what}: not within ${limitMs} ms`)), limitMs);
  });
  try {
    await Promise.race([event, late]);
  } finally {
    clearTimeout(timer);
  }
  return (Date.now() - started) / 1000;
}

/** Resolves once `child` has printed `word` on its stdout. */
function printed(child: ChildProcess, word: string): Promise<void> {
  let said = '';
  return new Promise((resolve) => {
    const look = (chunk: Buffer): void => {
      said += chunk;
      if (!said.includes(word)) return;
      child.stdout?.off('data', look);
      resolve();
    };
    child.stdout?.on('data', look);
  });
}

/**
 * Both kills, one after the other, in Dom0; prints a `xen-lane: libxenvchan process death:` line
 * for each. `serverChild` is server-child.dom0.ts's bundle (build.mjs). Fails naming the end
 * that did not notice.
 */
export async function checkProcessDeath(
  client: XenstoreClient,
  platform: DevicePlatform,
  tools: CTools,
  serverChild: string,
): Promise<void> {
  // 1. The C server dies under a xenwire client.
  const cPath = '/local/domain/0/data/vchan/0/91';
  const cServer = startProxy(tools, 'server', cPath);
  let greeting: Buffer;
  let noticed: number;
  try {
    const stream = await openVchanClient({
      client,
      platform,
      peerDomid: 0,
      path: cPath,
      timeoutMs: 30_000,
    });
    stream.write('hello from xenwire\n');
    cServer.stdin?.write('hello from C\n');
    [greeting] = (await once(stream, 'data')) as [Buffer];
    const ended = once(stream, 'end');
    cServer.kill('SIGKILL');
    noticed = await within(ended, 10_000, "xenwire's client after its C server died");
  } finally {
    cServer.kill('SIGKILL');
    // A killed libxenvchan server leaves its nodes behind (close_xs_srv never ran).
    await client.rm(cPath).catch(() => {});
  }
  console.log(
    `xen-lane: libxenvchan process death: C server killed, xenwire's client saw the end ` +
      `${noticed.toFixed(1)} s later (first read ${JSON.stringify(String(greeting).trim())})`,
  );

  // 2. A xenwire server dies under the C client.
  const path = '/local/domain/0/data/vchan/0/92';
  const server = spawn(process.execPath, [serverChild, path], {
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  const listening = printed(server, 'listening');
  const connected = printed(server, 'connected');
  await within(listening, 120_000, 'the xenwire server in its own process');
  const cClient = startProxy(tools, 'client', path);
  const cExited = once(cClient, 'exit') as Promise<[number | null]>;
  try {
    await within(connected, 60_000, 'the C client connecting to the xenwire server');
  } catch (error) {
    const nodes = await client.directory(path).catch((e: Error) => e.message);
    cClient.kill('SIGKILL');
    server.kill('SIGKILL');
    throw new Error(`${(error as Error).message}; ${path} holds ${nodes}`);
  }
  server.kill('SIGKILL');
  const exitedAfter = await within(cExited, 10_000, 'the C client after its xenwire server died');
  const [code] = await cExited;
  console.log(
    `xen-lane: libxenvchan process death: xenwire server killed, the C client exited (${code}) ` +
      `${exitedAfter.toFixed(1)} s later`,
  );
}
