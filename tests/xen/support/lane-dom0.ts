/**
 * What the Dom0 programs of the Xen lane share: the session's environment, `xl` run without
 * blocking the event loop (ends must go on serving events while xl works), and paused PV guests
 * booted from a variant of the lane's DomU image.
 */
import { execFile } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import { promisify } from 'node:util';

const run = promisify(execFile);

/** A variable of the lane's Dom0 session (XEN_LANE_CACHE, XEN_LANE_TOOLS, XEN_LANE_LIBS). */
export function laneEnv(name: string): string {
  const value = process.env[name];
  if (!value) throw new Error(`${name} is not set: run inside the Xen lane's Dom0 session`);
  return value;
}

/** Runs `xl ARGS…` and resolves with its trimmed stdout. */
export async function xl(...args: string[]): Promise<string> {
  try {
    const { stdout } = await run(`${laneEnv('XEN_LANE_TOOLS')}/xl`, args, {
      encoding: 'utf8',
      env: { ...process.env, LD_LIBRARY_PATH: laneEnv('XEN_LANE_LIBS') },
    });
    return stdout.trim();
  } catch (error) {
    throw new Error(`xl ${args.join(' ')}: ${(error as { stderr?: string }).stderr ?? error}`);
  }
}

/**
 * Writes the configuration of a PV guest (the lane's kernel, 512 MB, one vCPU) booting
 * `ramdisk`, with `extra` added to its kernel command line; resolves with its path.
 */
export function guestConfig(name: string, ramdisk: string, extra = ''): string {
  mkdirSync('/run/xen-lane', { recursive: true });
  const cfg = `/run/xen-lane/${name}.cfg`;
  writeFileSync(
    cfg,
    [
      `name = "${name}"`,
      'type = "pv"',
      `kernel = "${laneEnv('XEN_LANE_CACHE')}/vmlinuz"`,
      `ramdisk = "${ramdisk}"`,
      `extra = "console=hvc0 quiet loglevel=3 ${extra}"`,
      'memory = 512',
      'vcpus = 1',
      'on_poweroff = "destroy"',
      'on_crash = "destroy"',
      '',
    ].join('\n'),
  );
  return cfg;
}

/** Creates that guest paused ({@link guestConfig}) and resolves with its domid. */
export async function createPausedGuest(
  name: string,
  ramdisk: string,
  extra = '',
): Promise<number> {
  await xl('create', '-p', guestConfig(name, ramdisk, extra));
  return Number(await xl('domid', name));
}
