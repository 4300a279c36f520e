// Dom0, real Xen: grant pages. This process grants pages with /dev/xen/gntalloc (through the
// native addon); another Node process maps them with /dev/xen/gntdev, as a backend would. Then a
// byte ring from src/ring/ runs over real grant pages between the two processes.
import { spawn } from 'node:child_process';
import { closeSync, existsSync, openSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadNative, type XenwireNative } from '../../../src/evtchn/native.ts';
import { ByteRing } from '../../../src/ring/byte-ring.ts';
import { RingArea, XEN_PAGE_SIZE } from '../../../src/ring/memory.ts';
import { GRANT_RING_DATA_PAGES, GRANT_RING_LAYOUT, patternByte } from './grant-ring-layout.ts';
import { skipDeviceSuites } from './lane-env.ts';

const peerScript = fileURLToPath(new URL('./grant-peer.ts', import.meta.url));
/** Granting to and mapping from the same domain: Dom0 plays both ends. */
const DOM0 = 0;
const RING_BYTES = 8 * 1024 * 1024;

interface Peer {
  lines: string[];
  /** Resolves at the first line the peer prints. */
  firstLine: Promise<string>;
  done: Promise<number>;
  stderr: string[];
}

function startPeer(args: string[]): Peer {
  const child = spawn(process.execPath, ['--import', 'tsx', peerScript, ...args], {
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const lines: string[] = [];
  const stderr: string[] = [];
  let first: (line: string) => void = () => {};
  const firstLine = new Promise<string>((resolve) => {
    first = resolve;
  });
  let pending = '';
  child.stdout.setEncoding('utf8').on('data', (text: string) => {
    pending += text;
    const parts = pending.split('\n');
    pending = parts.pop() ?? '';
    for (const line of parts) {
      if (lines.length === 0) first(line);
      lines.push(line);
    }
  });
  child.stderr.setEncoding('utf8').on('data', (text: string) => stderr.push(text));
  const done = new Promise<number>((resolve) => child.once('close', (code) => resolve(code ?? -1)));
  return { lines, firstLine, done, stderr };
}

describe.skipIf(skipDeviceSuites)('grant pages between two processes in a real Dom0', () => {
  let native: XenwireNative;
  let gntalloc = -1;
  beforeAll(() => {
    expect(existsSync('/dev/xen/gntalloc')).toBe(true);
    native = loadNative();
    gntalloc = openSync('/dev/xen/gntalloc', 'r+');
  });
  afterAll(() => {
    if (gntalloc >= 0) closeSync(gntalloc);
  });

  it('maps a gntalloc page through gntdev in another process, both ways', async () => {
    const { index, refs } = native.gntallocAllocGref(gntalloc, DOM0, 1, true);
    expect(refs).toHaveLength(1);
    const page = new Uint8Array(native.mmap(gntalloc, XEN_PAGE_SIZE, index, true));
    Buffer.from(`granted by ${process.pid}\0`).copy(page, 0);

    const peer = startPeer(['echo', String(DOM0), String(refs[0])]);
    expect(await peer.done, peer.stderr.join('')).toBe(0);
    expect(JSON.parse(peer.lines[0] ?? '{}')).toEqual({ seen: `granted by ${process.pid}` });
    const answer = Buffer.from(page.subarray(2048, page.indexOf(0, 2048))).toString('utf8');
    expect(answer).toMatch(new RegExp(`^peer \\d+ read: granted by ${process.pid}$`));

    native.munmap(page.buffer as ArrayBuffer);
    native.gntallocDeallocGref(gntalloc, index, 1);
  });

  it('carries a byte ring over real grant pages between the processes', async () => {
    const pages = 1 + GRANT_RING_DATA_PAGES;
    const { index, refs } = native.gntallocAllocGref(gntalloc, DOM0, pages, true);
    const buffer = native.mmap(gntalloc, pages * XEN_PAGE_SIZE, index, true);
    // Fresh gntalloc pages are zeroed: both indices start at 0.
    const ring = new ByteRing(new RingArea(buffer, 0, undefined, 'grant ring'), GRANT_RING_LAYOUT);

    const peer = startPeer(['ring', String(DOM0), String(RING_BYTES), ...refs.map(String)]);
    expect(await peer.firstLine).toBe('mapped');

    const chunk = new Uint8Array(16384);
    let sent = 0;
    const started = process.hrtime.bigint();
    while (sent < RING_BYTES) {
      const want = Math.min(chunk.length, RING_BYTES - sent);
      for (let i = 0; i < want; i++) chunk[i] = patternByte(sent + i);
      let off = 0;
      while (off < want) {
        const n = ring.write(chunk.subarray(off, want));
        if (n === 0) await new Promise(setImmediate);
        off += n;
      }
      sent += want;
    }
    expect(await peer.done, peer.stderr.join('')).toBe(0);
    const seconds = Number(process.hrtime.bigint() - started) / 1e9;
    const report = JSON.parse(peer.lines.at(-1) ?? '{}') as {
      received: number;
      mismatches: number;
    };
    expect(report).toMatchObject({ received: RING_BYTES, mismatches: 0 });
    console.log(
      `xen-lane: ring throughput over real grant pages (gntalloc -> gntdev, two processes, ` +
        `${GRANT_RING_LAYOUT.size / 1024} KiB ring, polling): ${(RING_BYTES / 2 ** 20 / seconds).toFixed(1)} MiB/s ` +
        `(${RING_BYTES / 2 ** 20} MiB in ${seconds.toFixed(2)} s)`,
    );

    native.munmap(buffer);
    native.gntallocDeallocGref(gntalloc, index, pages);
  });
});
