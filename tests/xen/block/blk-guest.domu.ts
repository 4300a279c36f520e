/**
 * The guest's side of the block parts, in a PV DomU on real Xen (bundled by build-domu.mjs; the
 * image has node, e2fsprogs and the stock kernel's xen-blkfront). It follows the disks Dom0
 * attaches, one after another, and reports each part's outcome in its home (`data/blk/<part>`,
 * JSON, or `{ error }`; a part that fails does not stop the next) for Dom0 to judge:
 *
 * 1. `xenwire`: xvdb, served by `xenwire blkback` in Dom0, through Linux's blkfront: mkfs.ext4,
 *    mount, files written, sync, umount, e2fsck, remount read-only, files read back and hashed;
 * 2. `kernel`: xvdc, the same image served by Dom0's xen-blkback (a loop device) while xvdb stays:
 *    the files read back through the kernel's backend; then `dd` with 1 MiB requests, O_DIRECT,
 *    each way past the filesystem, on xvdb and xvdc by turns (the kernel's the baseline);
 * 3. `front`: xenwire's blkfront in this Node process, on a disk Dom0's xen-blkback serves under
 *    device/vbd-xenwire/51760 (Linux's blkfront claims only `vbd`): the whole disk read and
 *    hashed, 4 MiB written, flushed, read back;
 * 4. `kill`: xvdd, served by xenwire's blkback in Dom0: 64 KiB records written one after
 *    another, each pair flushed (fdatasync) before `data/blk/acked` names the last one; Dom0
 *    destroys the domain meanwhile.
 */
import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import {
  closeSync,
  existsSync,
  fdatasyncSync,
  openSync,
  readFileSync,
  writeFileSync,
  writeSync,
} from 'node:fs';
import { openBlkfront } from '../../../src/block/index.ts';
import { xenPlatform } from '../../../src/xenbus/index.ts';
import { XenstoreClient, xenbusDeviceConnector } from '../../../src/xenstore/index.ts';
import { RECORD_BYTES, record } from './pattern.ts';

const MiB = 1024 * 1024;
const say = (line: string) => console.log(`xen-lane-block[domu]: ${line}`);
const sha256 = (bytes: Uint8Array) => createHash('sha256').update(bytes).digest('hex');

function sh(command: string, args: string[]): string {
  try {
    return execFileSync(command, args, { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
  } catch (error) {
    const { status, stdout, stderr } = error as {
      status?: number;
      stdout?: string;
      stderr?: string;
    };
    throw new Error(`${command} ${args.join(' ')} exited ${status}: ${stderr}${stdout}`);
  }
}

async function waitForDisk(name: string, timeoutMs = 180_000): Promise<string> {
  const deadline = Date.now() + timeoutMs;
  while (!existsSync(`/sys/block/${name}`)) {
    if (Date.now() > deadline) throw new Error(`/dev/${name} did not appear`);
    await new Promise((resolve) => setTimeout(resolve, 200));
  }
  // devtmpfs makes the node; give udev-less busybox a moment if it lags.
  for (let i = 0; i < 50 && !existsSync(`/dev/${name}`); i++) {
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  return `/dev/${name}`;
}

/** Seconds `dd` takes with 1 MiB requests, O_DIRECT, timed around the command (busybox prints no rate). */
function ddSeconds(args: string[], count: number): number {
  const started = performance.now();
  sh('dd', [...args, 'bs=1M', `count=${count}`]);
  return (performance.now() - started) / 1000;
}

function median(values: readonly number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  const middle = sorted.length >> 1;
  return sorted.length % 2
    ? (sorted[middle] as number)
    : ((sorted[middle - 1] as number) + (sorted[middle] as number)) / 2;
}

/** MB/s of each `dd` of one disk, and their medians. */
interface DdRates {
  writeMBs: number;
  readMBs: number;
  writes: number[];
  reads: number[];
}

/**
 * `dd` with 1 MiB requests, O_DIRECT, `count` MiB from `at` MiB on, written then read, on each
 * disk in turn, `rounds` times; which disk goes first alternates from round to round. Neighbouring
 * runs meet the same load, so the disks' medians compare even on a machine whose load changes.
 * What starting `dd` costs (a `count=0` run each round, the median of them) is taken off every
 * run: it is the guest's, the same for both disks, and would pull their ratio towards 1.
 */
function alternatingDd(devices: readonly string[], at: number, count: number, rounds: number) {
  const seconds = devices.map(() => ({ writes: [] as number[], reads: [] as number[] }));
  const starts: number[] = [];
  for (let round = 0; round < rounds; round++) {
    starts.push(ddSeconds(['if=/dev/zero', 'of=/dev/null'], 0));
    const order = devices.map((_, i) => (round % 2 ? devices.length - 1 - i : i));
    for (const i of order) {
      seconds[i]?.writes.push(
        ddSeconds(['if=/dev/zero', `of=${devices[i]}`, `seek=${at}`, 'oflag=direct'], count),
      );
    }
    for (const i of order) {
      seconds[i]?.reads.push(
        ddSeconds([`if=${devices[i]}`, 'of=/dev/null', `skip=${at}`, 'iflag=direct'], count),
      );
    }
  }
  const start = median(starts);
  const mbs = (runs: number[]) => runs.map((s) => (count * MiB) / 1e6 / Math.max(s - start, 1e-3));
  const rates = seconds.map(({ writes, reads }): DdRates => {
    const rate = { writes: mbs(writes), reads: mbs(reads) };
    return { ...rate, writeMBs: median(rate.writes), readMBs: median(rate.reads) };
  });
  return { rates, startSeconds: start };
}

/** Where the dd runs go, past the filesystem, how much each moves, and how many by turns. */
const DD_AT_MIB = 32;
const DD_MIB = 32;
const DD_ROUNDS = 5;

const FILES = [
  { name: 'small', bytes: 4096 + 123 },
  { name: 'one-mib', bytes: MiB },
  { name: 'three-mib', bytes: 3 * MiB + 4096 },
];

function hashFiles(dir: string) {
  return Object.fromEntries(FILES.map((f) => [f.name, sha256(readFileSync(`${dir}/${f.name}`))]));
}

/** One part: its report, or its error, under `data/blk/<part>`; the next part runs either way. */
async function part(client: XenstoreClient, name: string, body: () => Promise<unknown>) {
  let outcome: unknown;
  try {
    outcome = await body();
  } catch (error) {
    say(`${name} FAILED: ${(error as Error).stack ?? error}`);
    outcome = { error: String((error as Error).message) };
  }
  await client.write(`data/blk/${name}`, JSON.stringify(outcome));
}

async function main(): Promise<void> {
  const client = await XenstoreClient.connect({ transport: xenbusDeviceConnector() });

  // 1. xenwire's blkback, Linux's blkfront.
  await part(client, 'xenwire', async () => {
    const xvdb = await waitForDisk('xvdb');
    say(`${xvdb} is here: ${readFileSync('/sys/block/xvdb/size', 'utf8').trim()} sectors`);
    sh('mkfs.ext4', ['-F', '-q', xvdb, '32M']);
    sh('mkdir', ['-p', '/mnt']);
    sh('mount', ['-t', 'ext4', xvdb, '/mnt']);
    const written: Record<string, string> = {};
    for (const [i, f] of FILES.entries()) {
      const data = record(100 + i, 0, f.bytes);
      writeFileSync(`/mnt/${f.name}`, data);
      written[f.name] = sha256(data);
    }
    sh('sync', []);
    sh('umount', ['/mnt']);
    // e2fsck exits 0 only for a clean filesystem (sh throws otherwise).
    const fsck = sh('e2fsck', ['-f', '-n', xvdb]);
    sh('mount', ['-t', 'ext4', '-o', 'ro', xvdb, '/mnt']);
    const readBack = hashFiles('/mnt');
    sh('umount', ['/mnt']);
    return { written, readBack, fsck: fsck.trim().split('\n').pop() };
  });

  // 2. Dom0's xen-blkback on the same image, while xenwire's still serves it: the files again,
  // then the same dd on both disks by turns, the kernel's the baseline.
  await part(client, 'kernel', async () => {
    const xvdc = await waitForDisk('xvdc');
    sh('mount', ['-t', 'ext4', '-o', 'ro', xvdc, '/mnt']);
    const readBack = hashFiles('/mnt');
    sh('umount', ['/mnt']);
    const { rates, startSeconds } = alternatingDd(
      ['/dev/xvdb', xvdc],
      DD_AT_MIB,
      DD_MIB,
      DD_ROUNDS,
    );
    const [xenwire, kernel] = rates;
    say(`dd start ${startSeconds.toFixed(3)} s (taken off each run)`);
    say(`dd MB/s, xvdb (xenwire): ${JSON.stringify(xenwire)}`);
    say(`dd MB/s, xvdc (kernel): ${JSON.stringify(kernel)}`);
    return { readBack, xenwire, kernel, ddStartSeconds: startSeconds };
  });

  // 3. xenwire's blkfront against Dom0's xen-blkback, once Dom0 has added the device.
  await part(client, 'front', async () => {
    await client.wait('device/vbd-xenwire/51760/backend-id', undefined, {
      signal: AbortSignal.timeout(180_000),
    });
    const platform = xenPlatform();
    const front = await openBlkfront({
      client,
      platform,
      type: 'vbd-xenwire',
      devid: 51760,
      timeoutMs: 180_000,
      queues: 2,
      maxRingPageOrder: 1,
      // gntalloc lets the domain grant 1024 pages in all, rings included: three 1 MiB
      // requests (257 pages each, with the indirect page) in flight.
      maxGrants: 1000,
    });
    say(`blkfront connected: ${JSON.stringify(front.info)}`);
    const size = front.info.sectors * 512;
    let started = performance.now();
    const whole = new Uint8Array(size);
    for (let at = 0; at < size; at += 4 * MiB) {
      await Promise.all(
        [0, 1, 2, 3].map((k) => {
          const from = Math.min(size, at + k * MiB);
          return from < size
            ? front.readInto(from / 512, whole.subarray(from, Math.min(size, from + MiB)))
            : undefined;
        }),
      );
    }
    const readMBs = size / 1e6 / ((performance.now() - started) / 1000);
    const data = new Uint8Array(4 * MiB);
    for (let k = 0; k < 4; k++) data.set(record(7, k, MiB), k * MiB);
    started = performance.now();
    await Promise.all(
      [0, 1, 2, 3].map((k) =>
        front.write((4 * MiB + k * MiB) / 512, data.subarray(k * MiB, (k + 1) * MiB)),
      ),
    );
    await front.flush();
    const writeMBs = data.length / 1e6 / ((performance.now() - started) / 1000);
    const again = await front.read((4 * MiB) / 512, 4 * MiB);
    await front.close();
    platform.close();
    say('blkfront closed');
    return {
      info: front.info,
      image: sha256(whole),
      written: sha256(data),
      readBack: sha256(again),
      readMBs,
      writeMBs,
    };
  });

  // 4. Records until Dom0 destroys this domain.
  await part(client, 'kill', async () => {
    const xvdd = await waitForDisk('xvdd');
    const fd = openSync(xvdd, 'r+');
    for (let i = 0; i < 512; i++) {
      writeSync(fd, record(1, i), 0, RECORD_BYTES, i * RECORD_BYTES);
      if (i % 2 === 1) {
        fdatasyncSync(fd);
        await client.write('data/blk/acked', String(i));
      }
    }
    closeSync(fd);
    return { finished: true };
  });
}

main().then(
  () => console.log('@@xen-lane:domu-status 0@@'),
  (error: unknown) => {
    say(String((error as Error).stack ?? error));
    console.log('@@xen-lane:domu-status 1@@');
  },
);
