/**
 * Xen's C libxenvchan in the lane: `vchan-socket-proxy` (xen-utils-4.17) with its stdin and
 * stdout as the vchan's two directions (the `-` mode), driven like a xenwire end: the same
 * random bytes out, the same timing of what comes in.
 */
import { type ChildProcessByStdio, spawn } from 'node:child_process';
import type { Readable, Writable } from 'node:stream';
import { type Digest, type Received, receive, sendRandom } from './transfer.ts';

/** Where the proxy binary and its libraries are. */
export interface CTools {
  readonly proxy: string;
  readonly libraryPath: string;
}

/** A running proxy, exchanging with its peer. */
export interface CPeer {
  readonly sent: Promise<Digest>;
  readonly received: Promise<Received>;
  /** Ends its stdin: the proxy writes what it has, closes the vchan and exits. */
  close(): void;
  /** Resolves with its exit status once it has exited. */
  readonly exited: Promise<number | null>;
  /** What it printed on stderr. */
  stderr(): string;
}

/**
 * Starts `vchan-socket-proxy --mode MODE DOMID PATH -` and exchanges `total` bytes each way
 * through it. The client waits for the server's nodes with a watch (the proxy's own loop).
 */
export function startCPeer(
  tools: CTools,
  mode: 'server' | 'client',
  domid: number,
  path: string,
  total: number,
): CPeer {
  const child: ChildProcessByStdio<Writable, Readable, Readable> = spawn(
    tools.proxy,
    ['--mode', mode, String(domid), path, '-'],
    {
      stdio: ['pipe', 'pipe', 'pipe'],
      env: { ...process.env, LD_LIBRARY_PATH: tools.libraryPath },
    },
  );
  let errors = '';
  child.stderr.on('data', (chunk: Buffer) => {
    errors += chunk;
  });
  const exited = new Promise<number | null>((resolve) => child.once('close', resolve));
  // A proxy that fails leaves its pipes broken: report that, not an EPIPE.
  child.stdin.on('error', () => {});
  const failed = exited.then((status) => {
    throw new Error(`vchan-socket-proxy exited (${status}): ${errors.trim()}`);
  });
  return {
    sent: Promise.race([sendRandom(child.stdin, total), failed]),
    received: Promise.race([receive(child.stdout, total), failed]),
    close: () => child.stdin.end(),
    exited,
    stderr: () => errors,
  };
}
