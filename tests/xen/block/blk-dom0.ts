/**
 * The block device on real Xen, Dom0's side, against one PV DomU running its stock kernel's
 * xen-blkfront and blk-guest.domu.ts (see that file for the guest's side). Four parts, in order:
 *
 * 1. `xenwire blkback` (the command, in its own Node process) serves a 96 MiB image as xvdb:
 *    the guest makes, checks and remounts an ext4 filesystem on it;
 * 2. Dom0's xen-blkback serves the same image (a loop device) as xvdc, beside xvdb: the guest
 *    reads the files back through it, then runs the same `dd`s on both disks by turns, the
 *    kernel's the baseline; each disk's medians and the xenwire/kernel ratios printed;
 * 3. Dom0's xen-blkback serves a random 16 MiB image to xenwire's blkfront in the guest's Node
 *    (device/vbd-xenwire/51760): hashes compared against the image here;
 * 4. xenwire's blkback (in this process) serves xvdd while the guest writes records and flushes;
 *    the domain is destroyed mid-write: the backend must notice, unmap, unbind, end Closed, the
 *    domain must go away (no grant left mapped keeps it a zombie), and the image must hold every
 *    record up to the last acknowledged flush, and nothing torn after it.
 *
 * Run inside the lane's Dom0 session (XEN_LANE_CACHE, XEN_LANE_TOOLS, XEN_LANE_LIBS set),
 * bundled by build-domu.mjs (see README.md):
 *   XENWIRE_NATIVE_ADDON=$PWD/native/build/Release/xenwire.node node .cache/xen-lane/block/blk-dom0.mjs
 * Prints `xen-lane: block …` lines; exits 0 when every part passed.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, rmSync, truncateSync, writeFileSync } from 'node:fs';
import {
  createBlockDevice,
  FileDisk,
  openBlkback,
  parseVirtualDevice,
} from '../../../src/block/index.ts';
import { nativeAddonPath } from '../../../src/device/index.ts';
import { removeDevice, XenbusState, xenPlatform } from '../../../src/xenbus/index.ts';
import { XenstoreClient } from '../../../src/xenstore/index.ts';
import { check, dom0Session } from '../support/dom0-session.ts';
import { RECORD_BYTES, record } from './pattern.ts';

const MiB = 1024 * 1024;
const { cache, command, xl, step, createPausedGuest } = dom0Session('xen-lane-block');
const sha256 = (bytes: Uint8Array) => createHash('sha256').update(bytes).digest('hex');

/** A loop device over `image`, and its `physical-device` (hex major:minor, as hotplug writes). */
async function loopDevice(image: string): Promise<{ path: string; physical: string }> {
  const path = await command('losetup', ['-f', '--show', image]);
  const physical = await command('stat', ['-c', '%t:%T', path]);
  return { path, physical };
}

/** Resolves with a part's report from the guest (`data/blk/<part>`); fails with its error. */
async function guestReport<T>(
  client: XenstoreClient,
  domid: number,
  part: string,
  timeoutMs: number,
): Promise<T> {
  const path = `/local/domain/${domid}/data/blk/${part}`;
  const watch = await client.watch(`/local/domain/${domid}/data`);
  const timer = setTimeout(() => void watch.close(), timeoutMs);
  try {
    for await (const _ of watch) {
      const value = await client.readString(path).catch(() => undefined);
      if (value === undefined) continue;
      const report = JSON.parse(value) as T & { error?: string };
      if (report.error !== undefined) throw new Error(`the guest failed: ${report.error}`);
      return report;
    }
    throw new Error(`no '${part}' report from the guest in ${timeoutMs / 1000} s`);
  } finally {
    clearTimeout(timer);
    await watch.close();
  }
}

/**
 * Takes a disk served by Dom0's xen-blkback away as libxl does: the backend offline and Closing,
 * so that the guest's blkfront lets go and blkback unmaps and goes Closed; then both directories
 * go, and the loop device.
 */
async function detach(
  client: XenstoreClient,
  domid: number,
  devid: number,
  frontendType: string,
  loop: string,
): Promise<void> {
  const backend = `/local/domain/0/backend/vbd/${domid}/${devid}`;
  const state = `${backend}/state`;
  const closed = String(XenbusState.Closed);
  await client.write(`${backend}/online`, '0');
  if ((await client.readString(state).catch(() => closed)) !== closed) {
    await client.write(state, String(XenbusState.Closing));
  }
  const watch = await client.watch(state);
  const timer = setTimeout(() => void watch.close(), 60_000);
  for await (const _ of watch) {
    if ((await client.readString(state).catch(() => closed)) === closed) break;
  }
  clearTimeout(timer);
  await watch.close();
  await removeDevice(client, {
    type: frontendType,
    backendType: 'vbd',
    frontendDomid: domid,
    backendDomid: 0,
    devid,
  });
  // blkback lets go of the loop device once its xenbus device is gone.
  for (let i = 0; i < 20; i++) {
    if (
      await command('losetup', ['-d', loop]).then(
        () => true,
        () => false,
      )
    )
      return;
    await new Promise((resolve) => setTimeout(resolve, 500));
  }
  throw new Error(`${loop} stayed busy`);
}

/** Starts `xenwire blkback` as a user runs it; `until` waits for a line it prints. */
async function startCommand(domid: number, image: string) {
  // Bundled by build-domu.mjs: under emulation tsx would take half a minute transforming the
  // command's modules before it serves anything.
  const child: ChildProcess = spawn(
    process.execPath,
    [
      // E.g. `--cpu-prof --cpu-prof-dir=DIR` to see where the command's time goes.
      ...(process.env.XEN_LANE_BLOCK_NODE_ARGS?.split(' ').filter(Boolean) ?? []),
      `${cache}/block/xenwire-cli.mjs`,
      'blkback',
      '--domain',
      String(domid),
      '--image',
      image,
      '--devid',
      'xvdb',
      '--timeout',
      '240',
    ],
    {
      stdio: ['ignore', 'pipe', 'pipe'],
      env: { ...process.env, XENWIRE_NATIVE_ADDON: nativeAddonPath() },
    },
  );
  let out = '';
  const lines = (chunk: Buffer) => {
    out += chunk.toString();
    for (const line of chunk.toString().split('\n'))
      if (line) console.log(`xenwire blkback: ${line}`);
  };
  child.stdout?.on('data', lines);
  child.stderr?.on('data', lines);
  const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
  const until = async (pattern: RegExp, timeoutMs: number) => {
    const deadline = Date.now() + timeoutMs;
    while (!pattern.test(out)) {
      if (child.exitCode !== null)
        throw new Error(`xenwire blkback exited (${child.exitCode}): ${out}`);
      if (Date.now() > deadline) throw new Error(`xenwire blkback did not print ${pattern}`);
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
    return pattern.exec(out) as RegExpExecArray;
  };
  return { child, exited, until, output: () => out };
}

const work = '/run/xen-lane/block';
mkdirSync(work, { recursive: true });
const images = { a: `${work}/a.img`, c: `${work}/c.img`, d: `${work}/d.img` };
for (const path of Object.values(images)) rmSync(path, { force: true });
writeFileSync(images.a, '');
truncateSync(images.a, 96 * MiB);
const original = randomBytes(16 * MiB);
writeFileSync(images.c, original);
writeFileSync(images.d, '');
truncateSync(images.d, 32 * MiB);

const guestName = 'xen-lane-block';
step('connecting to xenstored');
const client = await XenstoreClient.connect();
const platform = xenPlatform({ client });
const results: Record<string, boolean> = {};
let domid = -1;

async function part(title: string, body: () => Promise<void>): Promise<boolean> {
  step(`part '${title}'`);
  try {
    await body();
    step(`part '${title}' passed`);
    results[title] = true;
  } catch (error) {
    step(`part '${title}' FAILED: ${(error as Error).stack ?? error}`);
    results[title] = false;
  }
  return results[title] as boolean;
}

/** One disk's dd figures from the guest: the medians, and every run. */
interface DdRates {
  writeMBs: number;
  readMBs: number;
  writes: number[];
  reads: number[];
}
let cli: Awaited<ReturnType<typeof startCommand>> | undefined;
let connected = '';
let written: Record<string, string> = {};

/** Interrupts `xenwire blkback`: it closes the disk (the guest's blkfront lets go) and exits 0. */
async function stopCommand(): Promise<void> {
  const running = cli;
  if (!running) return;
  cli = undefined;
  if (running.child.exitCode === null) running.child.kill('SIGINT');
  check((await running.exited) === 0, `xenwire blkback exits 0 (got ${running.child.exitCode})`);
  step(`xenwire blkback ${/closed \(.*?\): .*/.exec(running.output())?.[0]}`);
}

const rates = (r: DdRates) =>
  `write ${r.writeMBs.toFixed(1)} MB/s, read ${r.readMBs.toFixed(1)} MB/s ` +
  `(runs: write ${r.writes.map((x) => x.toFixed(1)).join(' ')}; read ${r.reads.map((x) => x.toFixed(1)).join(' ')})`;

try {
  domid = await createPausedGuest({
    name: guestName,
    ramdisk: 'block/initramfs-domu-block.cpio',
    vcpus: 2,
  });
  step(`domain ${domid} created paused`);

  // The command goes on serving xvdb through the next part, whose dd runs take turns on both
  // disks; it is stopped at that part's end.
  await part('xenwire blkback, Linux blkfront', async () => {
    const command = await startCommand(domid, images.a);
    cli = command;
    try {
      // The guest boots while the command starts: its blkfront takes the disk whenever it
      // appears, as it takes any disk added to a running guest.
      await xl('unpause', String(domid));
      step('unpaused; waiting for the command and the guest');
      await command.until(/serving /, 120_000);
      connected = (await command.until(/connected: (.*)/, 240_000))[1] as string;
      const report = await guestReport<{
        written: Record<string, string>;
        readBack: Record<string, string>;
      }>(client, domid, 'xenwire', 240_000);
      written = report.written;
      check(
        JSON.stringify(report.readBack) === JSON.stringify(report.written),
        'files read back as written',
      );
      step(
        `xvdb: ext4 made, ${Object.keys(written).length} files written, e2fsck clean, read back after remount`,
      );
    } catch (error) {
      await stopCommand().catch(() => {});
      throw error;
    }
  });

  await part('Linux blkback, Linux blkfront', async () => {
    try {
      const loop = await loopDevice(images.a);
      await createBlockDevice(client, {
        frontendDomid: domid,
        devid: parseVirtualDevice('xvdc'),
        params: loop.path,
        backend: { 'physical-device': loop.physical },
      });
      const report = await guestReport<{
        readBack: Record<string, string>;
        xenwire: DdRates;
        kernel: DdRates;
        ddStartSeconds: number;
      }>(client, domid, 'kernel', 240_000).finally(() =>
        detach(client, domid, parseVirtualDevice('xvdc'), 'vbd', loop.path),
      );
      check(
        JSON.stringify(report.readBack) === JSON.stringify(written),
        'the files written through xenwire read back through the kernel',
      );
      const { xenwire: ours, kernel } = report;
      const turns =
        `dd 1 MiB O_DIRECT, medians of ${ours.writes.length} by turns with the other disk, ` +
        `${(report.ddStartSeconds * 1000).toFixed(0)} ms of dd's start taken off each`;
      console.log(
        `xen-lane: block xenwire blkback -> Linux xen-blkfront (${connected}): ext4 made, ` +
          `${Object.keys(written).length} files written, e2fsck clean, read back after remount, sha256 equal; ` +
          `${turns}: ${rates(ours)}`,
      );
      console.log(
        `xen-lane: block Linux xen-blkback (loop) -> Linux xen-blkfront, same image: files sha256 equal; ` +
          `${turns}: ${rates(kernel)}`,
      );
      console.log(
        `xen-lane: block xenwire/kernel blkback throughput: write ${(ours.writeMBs / kernel.writeMBs).toFixed(2)}x, ` +
          `read ${(ours.readMBs / kernel.readMBs).toFixed(2)}x (medians, persistent grants on)`,
      );
    } finally {
      await stopCommand();
    }
  });

  await part('xenwire blkfront, Linux blkback', async () => {
    const loop = await loopDevice(images.c);
    await createBlockDevice(client, {
      frontendDomid: domid,
      frontendType: 'vbd-xenwire',
      devid: 51760,
      params: loop.path,
      backend: { 'physical-device': loop.physical },
    });
    const report = await guestReport<{
      image: string;
      written: string;
      readBack: string;
      readMBs: number;
      writeMBs: number;
      info: { queues: number; ringPages: number; persistent: boolean; segmentsPerRequest: number };
    }>(client, domid, 'front', 180_000).finally(() =>
      detach(client, domid, 51760, 'vbd-xenwire', loop.path),
    );
    check(report.image === sha256(original), 'the whole disk read by the guest is the image here');
    check(report.readBack === report.written, 'what the guest wrote reads back');
    const image = readFileSync(images.c);
    check(
      sha256(image.subarray(4 * MiB, 8 * MiB)) === report.written,
      'what the guest wrote is in the image here',
    );
    check(
      sha256(image.subarray(0, 4 * MiB)) === sha256(original.subarray(0, 4 * MiB)),
      'nothing else changed',
    );
    const { info } = report;
    console.log(
      `xen-lane: block xenwire blkfront -> Linux xen-blkback (${info.queues} queues, ${info.ringPages}-page rings, ` +
        `${info.segmentsPerRequest} segments a request, persistent ${info.persistent}): 16 MiB read, sha256 equal to the image; ` +
        `4 MiB written and flushed, sha256 equal in the image; read ${report.readMBs.toFixed(1)} MB/s, write ${report.writeMBs.toFixed(1)} MB/s`,
    );
  });

  await part('kill mid-write', async () => {
    const devid = parseVirtualDevice('xvdd');
    await createBlockDevice(client, {
      frontendDomid: domid,
      devid,
      backendType: 'vbd-xenwire',
      params: images.d,
    });
    const disk = await FileDisk.open(images.d);
    const backend = await openBlkback({
      client,
      platform,
      frontendDomid: domid,
      devid,
      type: 'vbd-xenwire',
      disk,
      timeoutMs: 180_000,
    });
    const ports = backend.connection?.device.queues.map((queue) => queue.port) ?? [];
    step(`xvdd connected (${ports.length} queues); waiting for acknowledged flushes`);
    const ackedPath = `/local/domain/${domid}/data/blk/acked`;
    let acked = -1;
    const watch = await client.watch(`/local/domain/${domid}/data`);
    const timer = setTimeout(() => void watch.close(), 180_000);
    for await (const _ of watch) {
      acked = Number(await client.readString(ackedPath).catch(() => '-1'));
      if (acked >= 15) break;
      const report = await client
        .readString(`/local/domain/${domid}/data/blk/kill`)
        .catch(() => undefined);
      if (report !== undefined) throw new Error(`the guest stopped writing: ${report}`);
    }
    clearTimeout(timer);
    await watch.close();
    check(acked >= 15, `16 records flushed in time (got ${acked + 1})`);
    const destroying = Date.now();
    step(`destroying domain ${domid} after record ${acked} was flushed`);
    const closed = backend.closed;
    await xl('destroy', String(domid));
    const reason = await Promise.race([
      closed,
      new Promise<never>((_, reject) =>
        setTimeout(() => reject(new Error('the backend did not notice in 60 s')), 60_000),
      ),
    ]);
    const noticed = (Date.now() - destroying) / 1000;
    check(
      ['ESRCH', 'ECONNRESET'].includes(reason?.code ?? ''),
      `the backend noticed the domain going (got ${reason?.code})`,
    );
    check(
      backend.mappedGrants === 0 && backend.inflight === 0,
      'every grant unmapped, nothing in flight',
    );
    check(backend.connection === undefined, 'rings released');
    for (const port of ports) {
      let bound = true;
      try {
        platform.eventChannel.notify(port);
      } catch {
        bound = false;
      }
      check(!bound, `port ${port} unbound`);
    }
    const state = await client.readString(`${backend.device.path}/state`);
    check(state === String(XenbusState.Closed), `backend state Closed (got ${state})`);
    // A domain whose pages are still mapped stays behind as a zombie, "(null)" in xl list.
    const listed = async () =>
      (await xl('list')).split('\n').some((line) => line.split(/\s+/)[1] === String(domid));
    let gone = false;
    for (let i = 0; i < 40 && !gone; i++) {
      gone = !(await listed());
      if (!gone) await new Promise((resolve) => setTimeout(resolve, 500));
    }
    check(gone, 'the domain is gone (nothing of it left mapped)');
    domid = -1;
    await disk.close();
    const image = readFileSync(images.d);
    for (let i = 0; i <= acked; i++) {
      const at = i * RECORD_BYTES;
      check(
        Buffer.compare(image.subarray(at, at + RECORD_BYTES), record(1, i)) === 0,
        `record ${i} (flushed) is intact`,
      );
    }
    // Buffer.compare, and each record computed once: under emulation a callback per byte or a
    // record per page would take a minute over the 32 MiB.
    let later = 0;
    const unwritten = Buffer.alloc(4096);
    for (let i = acked + 1; i * RECORD_BYTES < image.length; i++) {
      const expected = record(1, i);
      for (let offset = 0; offset < RECORD_BYTES; offset += 4096) {
        const page = image.subarray(i * RECORD_BYTES + offset, i * RECORD_BYTES + offset + 4096);
        const zero = Buffer.compare(page, unwritten) === 0;
        check(
          zero || Buffer.compare(page, expected.subarray(offset, offset + 4096)) === 0,
          `page at ${i * RECORD_BYTES + offset} is either unwritten or whole`,
        );
        if (!zero) later++;
      }
    }
    console.log(
      `xen-lane: block kill: domain destroyed mid-write after ${acked + 1} records (64 KiB) were flushed; ` +
        `backend closed ${noticed.toFixed(1)} s after xl destroy began (${reason?.code}), grants unmapped, ` +
        `ports unbound, state Closed, domain gone; image holds all ${acked + 1} flushed records, ` +
        `${later} later pages written whole, none torn`,
    );
  });
} finally {
  if (domid >= 0) await xl('destroy', String(domid)).catch(() => {});
  const log = `/var/log/xen/console/guest-${guestName}.log`;
  if (existsSync(log)) console.log(readFileSync(log, 'utf8').replaceAll('\r', ''));
  platform.close();
  await client.close();
}
const failed = Object.entries(results).filter(([, ok]) => !ok);
step(
  `${Object.keys(results).length - failed.length} of ${Object.keys(results).length} parts passed`,
);
process.exit(failed.length === 0 && Object.keys(results).length === 4 ? 0 : 1);
