import {
  type Blkback,
  type BlockError,
  createBlockDevice,
  FileDisk,
  openBlkback,
  parseVirtualDevice,
  virtualDeviceName,
} from '../../block/index.ts';
import { type DevicePlatform, removeDevice, xenPlatform } from '../../xenbus/index.ts';
import type { XenstoreClient } from '../../xenstore/index.ts';
import type { Command } from '../command.ts';
import { type CliIo, Diagnostics, USAGE_ERROR } from '../io.ts';
import { openTarget } from '../target.ts';
import { parseToolArgs } from '../tool-args.ts';

const options = {
  domain: { type: 'string' },
  image: { type: 'string' },
  'read-only': { type: 'boolean' },
  devid: { type: 'string', default: 'xvdb' },
  'backend-type': { type: 'string', default: 'vbd-xenwire' },
  'no-persistent': { type: 'boolean' },
  'max-queues': { type: 'string' },
  'max-ring-page-order': { type: 'string' },
  timeout: { type: 'string', default: '300' },
  keep: { type: 'boolean' },
  help: { type: 'boolean', short: 'h' },
} as const;

const usage = `Usage: xenwire blkback --domain N --image FILE [--read-only] [--devid xvdb|NUMBER]
       [--backend-type vbd-xenwire] [--no-persistent] [--max-queues N]
       [--max-ring-page-order N] [--timeout SECONDS] [--keep]

Serves a raw disk image to domain N as a paravirtual disk (blkif), from this domain: adds the
device to xenstore as xl would (the guest's device/vbd/DEVID, this domain's
backend/BACKEND-TYPE/N/DEVID), waits up to --timeout for the guest's blkfront to connect, and
serves it until the guest closes the disk, dies, or this command is interrupted; then removes the
device (unless --keep). The default backend type, vbd-xenwire, is one the kernel's xen-blkback
does not claim. Prints the negotiated protocol once connected and what was served at the end.
`;

/** What the command needs from the host; tests give a simulated one. */
export interface BlkbackHost {
  readonly client: XenstoreClient;
  readonly platform: DevicePlatform;
  close(): Promise<void>;
}

function integer(diag: Diagnostics, name: string, text: string | undefined): number | undefined {
  if (text === undefined) return undefined;
  if (!/^\d{1,9}$/.test(text))
    diag.errx(`--${name} takes a non-negative integer, not ${text}`, USAGE_ERROR, 2);
  return Number(text);
}

async function xenHost(io: CliIo): Promise<BlkbackHost> {
  const target = await openTarget({ env: io.env });
  try {
    const platform = xenPlatform({ client: target.client });
    return {
      client: target.client,
      platform,
      async close() {
        platform.close();
        await target.close();
      },
    };
  } catch (error) {
    await target.close();
    throw error;
  }
}

function describe(backend: Blkback): string {
  const c = backend.connection;
  if (!c) return 'closed before it connected';
  return [
    `protocol ${c.abi.protocol}`,
    `${c.queues} queue${c.queues > 1 ? 's' : ''}`,
    `${c.ringPages}-page ring${c.queues > 1 ? 's' : ''}`,
    c.persistent ? 'persistent grants' : 'grants mapped per request',
  ].join(', ');
}

/**
 * `xenwire blkback`: a userspace block backend for a guest, serving a raw image.
 * @param connect - where the store and the hypervisor are (default: this domain on real Xen)
 */
export async function runBlkback(
  args: readonly string[],
  io: CliIo,
  connect: (io: CliIo) => Promise<BlkbackHost> = xenHost,
): Promise<number> {
  const diag = new Diagnostics(io, 'xenwire blkback');
  const { values } = parseToolArgs(args, options, usage, io, diag);
  const domain = integer(diag, 'domain', values.domain);
  if (domain === undefined || values.image === undefined) {
    return diag.errx(`--domain and --image are required\n${usage}`, USAGE_ERROR, 2);
  }
  let devid: number;
  try {
    devid = parseVirtualDevice(values.devid);
  } catch (error) {
    return diag.errx((error as Error).message, USAGE_ERROR, 2);
  }
  const timeoutMs = (integer(diag, 'timeout', values.timeout) as number) * 1000;
  const readOnly = values['read-only'] ?? false;
  const disk = await FileDisk.open(values.image, { readOnly }).catch((error: Error) =>
    diag.errx(`${values.image}: ${error.message}`),
  );
  let host: BlkbackHost | undefined;
  try {
    host = await connect(io).catch((error: Error) => diag.errx(error.message));
    const { client, platform } = host;
    const backendDomid = platform.domid ?? 0;
    const id = {
      frontendDomid: domain,
      backendDomid,
      devid,
      backendType: values['backend-type'],
    };
    const paths = await createBlockDevice(client, { ...id, params: values.image, readOnly });
    const name = virtualDeviceName(devid) ?? String(devid);
    io.stdout.write(
      `serving ${values.image} (${disk.sectors} sectors${readOnly ? ', read-only' : ''}) to ` +
        `domain ${domain} as ${name}: ${paths.backend}\n`,
    );
    try {
      const opening = openBlkback({
        client,
        platform,
        frontendDomid: domain,
        domid: backendDomid,
        devid,
        type: values['backend-type'],
        disk,
        timeoutMs,
        persistent: !values['no-persistent'],
        maxQueues: integer(diag, 'max-queues', values['max-queues']),
        maxRingPageOrder: integer(diag, 'max-ring-page-order', values['max-ring-page-order']),
      });
      const interrupted = new Promise<'interrupted'>((resolve) => {
        if (io.signal?.aborted) resolve('interrupted');
        io.signal?.addEventListener('abort', () => resolve('interrupted'), { once: true });
      });
      const backend = await Promise.race([opening, interrupted]);
      if (backend === 'interrupted') {
        opening.then((late) => late.close()).catch(() => {});
        io.stderr.write('xenwire blkback: interrupted before the guest connected\n');
        return 130;
      }
      io.stdout.write(`connected: ${describe(backend)}\n`);
      const reason = await Promise.race([backend.closed, interrupted]);
      if (reason === 'interrupted') await backend.close();
      const why =
        reason === 'interrupted' ? 'interrupted' : (reason as BlockError | undefined)?.message;
      const s = backend.stats;
      io.stdout.write(
        `closed (${why ?? 'by this end'}): ${s.reads} reads (${s.bytesRead} bytes), ` +
          `${s.writes} writes (${s.bytesWritten} bytes), ${s.flushes} flushes, ` +
          `${s.discards} discards, ${s.errors} refused, ${s.notSupported} not supported; ` +
          `${s.wakeups} wake-ups, ${s.notifications} notifications sent\n`,
      );
      return (reason as BlockError | undefined)?.code === 'EPROTO' ? 1 : 0;
    } catch (error) {
      return diag.errx(`domain ${domain}: ${(error as Error).message}`);
    } finally {
      if (!values.keep) await removeDevice(client, { type: 'vbd', ...id }).catch(() => {});
    }
  } finally {
    await disk.close();
    await host?.close();
  }
}

/** `xenwire blkback`: serves until the guest closes the disk or the command is interrupted. */
export const command: Command = { run: (args, io) => runBlkback(args, io), interruptible: true };
