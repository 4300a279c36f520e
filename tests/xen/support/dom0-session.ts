/**
 * What the lane's Dom0 programs (tests/xen/*\/*.dom0.ts run by xen-lane/dom0-suites.sh) share:
 * the session's paths, commands run without blocking the event loop (a backend must go on
 * serving while xl works), and timestamped progress lines, so that a run that dies shows how far
 * it got.
 */
import { execFile } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import { promisify } from 'node:util';

const run = promisify(execFile);

/** The Dom0 session of xen-lane/dom0-session.sh, for one program. */
export interface Dom0Session {
  /** The lane's cache (kernel, guest images, bundles). */
  readonly cache: string;
  /** Xen's tools (`xl`, `vchan-socket-proxy`, …) and the libraries they load. */
  readonly tools: string;
  readonly libs: string;
  /** Runs `file`; resolves with its trimmed stdout, fails with its stderr. */
  command(file: string, args: readonly string[], env?: NodeJS.ProcessEnv): Promise<string>;
  /** Runs Xen's `xl` with its libraries. */
  xl(...args: string[]): Promise<string>;
  /** Prints `<tag>[dom0]: +<seconds> s <what>`. */
  step(what: string): void;
  /**
   * Writes the `xl` configuration of a PV guest running the lane's kernel; returns its path
   * (for a caller that must act while `xl create` runs).
   */
  guestConfig(guest: GuestConfig): string;
  /** Creates a paused PV guest running the lane's kernel; resolves with its domain id. */
  createPausedGuest(guest: GuestConfig): Promise<number>;
}

/** A PV guest of the lane: the lane's kernel, one of the cache's images. */
export interface GuestConfig {
  readonly name: string;
  /** The initramfs, relative to the cache (e.g. `block/initramfs-domu-block.cpio`). */
  readonly ramdisk: string;
  /** Kernel command line after the console's options. */
  readonly extra?: string;
  readonly vcpus: number;
}

/** Fails the program with `what` unless `condition` holds. */
export function check(condition: boolean, what: string): void {
  if (!condition) throw new Error(`check failed: ${what}`);
}

/**
 * The session's environment (XEN_LANE_CACHE, XEN_LANE_TOOLS, XEN_LANE_LIBS).
 * @throws Error outside the lane's Dom0 session
 */
export function dom0Session(tag: string): Dom0Session {
  const env = (name: string): string => {
    const value = process.env[name];
    if (!value) throw new Error(`${name} is not set: run inside the Xen lane's Dom0 session`);
    return value;
  };
  const cache = env('XEN_LANE_CACHE');
  const tools = env('XEN_LANE_TOOLS');
  const libs = env('XEN_LANE_LIBS');
  const began = Date.now();
  const command = async (file: string, args: readonly string[], extra: NodeJS.ProcessEnv = {}) => {
    try {
      const { stdout } = await run(file, args, {
        encoding: 'utf8',
        env: { ...process.env, ...extra },
      });
      return stdout.trim();
    } catch (error) {
      const why = (error as { stderr?: string }).stderr ?? error;
      throw new Error(`${file} ${args.join(' ')}: ${why}`);
    }
  };
  const xl = (...args: string[]) => command(`${tools}/xl`, args, { LD_LIBRARY_PATH: libs });
  const guestConfig = (guest: GuestConfig): string => {
    mkdirSync('/run/xen-lane', { recursive: true });
    const cfg = `/run/xen-lane/${guest.name}.cfg`;
    writeFileSync(
      cfg,
      [
        `name = "${guest.name}"`,
        'type = "pv"',
        `kernel = "${cache}/vmlinuz"`,
        `ramdisk = "${cache}/${guest.ramdisk}"`,
        `extra = "console=hvc0 quiet loglevel=3 ${guest.extra ?? ''}"`,
        'memory = 512',
        `vcpus = ${guest.vcpus}`,
        'on_poweroff = "destroy"',
        'on_crash = "destroy"',
        '',
      ].join('\n'),
    );
    return cfg;
  };
  return {
    cache,
    tools,
    libs,
    command,
    xl,
    step(what) {
      console.log(`${tag}[dom0]: +${((Date.now() - began) / 1000).toFixed(1)} s ${what}`);
    },
    guestConfig,
    async createPausedGuest(guest) {
      await xl('create', '-p', guestConfig(guest));
      return Number(await xl('domid', guest.name));
    },
  };
}
