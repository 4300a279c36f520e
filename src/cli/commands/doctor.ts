import { closeSync, constants, openSync, statSync } from 'node:fs';
import {
  isNativeAvailable,
  loadNative,
  NATIVE_BUILD_HINT,
  nativeAddonPath,
} from '../../device/native.ts';
import { XenstoreClient } from '../../xenstore/client.ts';
import { defaultSocketPath } from '../../xenstore/transport/default.ts';
import { socketConnector } from '../../xenstore/transport/socket.ts';
import {
  XENBUS_DEVICE_PATH,
  xenbusDeviceConnector,
} from '../../xenstore/transport/xenbus-device.ts';
import type { Command } from '../command.ts';
import { type CliIo, Diagnostics, wantsJson } from '../io.ts';
import { strerror } from '../strerror.ts';
import { errorCode } from '../target.ts';
import { parseToolArgs } from '../tool-args.ts';

const options = {
  json: { type: 'boolean' },
  help: { type: 'boolean', short: 'h' },
} as const;

const usage = `Usage: xenwire doctor [--json]

Shows what works on this machine: the Node.js version, the native addon, the Xen devices under
/dev/xen and whether this user can open them, and the xenstored the other commands would use
(found as libxenstore finds it) with its answer to GET_DOMAIN_PATH 0. Exit status 1 when
something needed is missing: a xenstored, or on Xen the native addon or a device this user cannot
open. --json prints one JSON object: {"ok", "checks": [{"name", "status", "detail", "hint"}]}.
`;

/** `ok`: works; `unavailable`: not here, and not needed here; `fail`: needed, and broken. */
type Status = 'ok' | 'unavailable' | 'fail';

interface Check {
  readonly name: string;
  readonly status: Status;
  readonly detail: string;
  /** What to do about it. */
  readonly hint?: string;
}

/** The devices xenwire uses: xenstore's, event channels', grant mapping's and sharing's. */
const DEVICES = [XENBUS_DEVICE_PATH, '/dev/xen/evtchn', '/dev/xen/gntdev', '/dev/xen/gntalloc'];

function versionAtLeast(major: number, minor: number): boolean {
  const [have = 0, haveMinor = 0] = process.versions.node.split('.').map(Number);
  return have > major || (have === major && haveMinor >= minor);
}

function checkNode(): Check {
  const { node, modules, napi } = process.versions;
  const majorOk = versionAtLeast(20, 0);
  // require() of ES modules without a flag: 20.19 on Node 20, 22.12 on Node 22.
  const major = Number(node.split('.')[0]);
  const requireEsm =
    major === 20 ? versionAtLeast(20, 19) : major === 22 ? versionAtLeast(22, 12) : major > 22;
  return {
    name: 'Node.js',
    status: majorOk ? 'ok' : 'fail',
    detail:
      `${process.version} on ${process.platform}-${process.arch} (module ABI ${modules}, ` +
      `N-API ${napi}); require('xenwire/…') ${requireEsm ? 'works' : 'needs Node 20.19 or 22.12: use import'}`,
    ...(majorOk ? {} : { hint: 'xenwire needs Node.js 20 or later' }),
  };
}

function checkAddon(onXen: boolean): Check {
  const path = nativeAddonPath();
  if (isNativeAvailable()) {
    const { abi } = loadNative();
    return {
      name: 'native addon',
      status: 'ok',
      detail: `${path}: loaded (N-API; ${Object.keys(abi.ioctls).length} ioctl numbers, ${Object.keys(abi.layouts).length} struct layouts)`,
    };
  }
  let reason: string;
  try {
    loadNative();
    reason = 'not loadable';
  } catch (error) {
    const cause = (error as { cause?: Error }).cause;
    reason = statSync(path, { throwIfNoEntry: false })
      ? `not loadable: ${cause?.message.split('\n')[0] ?? 'unknown error'}`
      : 'not built';
  }
  return {
    name: 'native addon',
    status: onXen ? 'fail' : 'unavailable',
    detail: `${path}: ${reason}; mapping pages, /dev/xen/evtchn and gntdev/gntalloc need it`,
    hint: NATIVE_BUILD_HINT,
  };
}

function checkDevice(path: string): Check {
  const found = statSync(path, { throwIfNoEntry: false });
  if (!found) {
    return { name: path, status: 'unavailable', detail: 'absent (not a Xen domain, or no driver)' };
  }
  try {
    closeSync(openSync(path, constants.O_RDWR | constants.O_NONBLOCK));
    return { name: path, status: 'ok', detail: 'present, opened read-write' };
  } catch (error) {
    const code = errorCode(error);
    return {
      name: path,
      status: 'fail',
      detail: `present, cannot be opened: ${strerror(code)} (${code})`,
      ...(code === 'EACCES' || code === 'EPERM'
        ? { hint: 'run as root, or give this user access to the device' }
        : {}),
    };
  }
}

/** The daemon the other commands would use, as the client's default transport chooses it. */
function findDaemon(env: NodeJS.ProcessEnv): { path: string; how: string; device: boolean } {
  const socketPath = defaultSocketPath(env);
  const found = statSync(socketPath, { throwIfNoEntry: false });
  if (env.XENSTORED_PATH) {
    return {
      path: socketPath,
      how: '$XENSTORED_PATH',
      device: Boolean(found && !found.isSocket()),
    };
  }
  if (found?.isSocket()) return { path: socketPath, how: 'the daemon socket', device: false };
  return { path: XENBUS_DEVICE_PATH, how: 'the xenbus device', device: true };
}

async function checkDaemon(env: NodeJS.ProcessEnv): Promise<Check> {
  const daemon = findDaemon(env);
  const name = 'xenstored';
  const where = `${daemon.path} (${daemon.how})`;
  if (!statSync(daemon.path, { throwIfNoEntry: false })) {
    return {
      name,
      status: 'fail',
      detail: env.XENSTORED_PATH
        ? `none found: $XENSTORED_PATH is ${daemon.path}, which does not exist`
        : `none found: neither ${defaultSocketPath(env)} nor ${XENBUS_DEVICE_PATH} exists`,
      hint: 'set XENSTORED_PATH to its socket, or run one: xenwire serve',
    };
  }
  let client: XenstoreClient | undefined;
  try {
    const transport = daemon.device
      ? xenbusDeviceConnector(daemon.path)
      : socketConnector(daemon.path);
    client = await XenstoreClient.connect({ transport, timeout: 3000, busyPoll: false });
    const started = performance.now();
    const home = await client.getDomainPath(0);
    const ms = performance.now() - started;
    const root = await client.read('/').then(
      () => 'reads / (privileged)',
      (error: unknown) => `reading / gives ${errorCode(error)} (not privileged)`,
    );
    return {
      name,
      status: 'ok',
      detail: `${where}: GET_DOMAIN_PATH 0 is ${home} (${ms.toFixed(1)} ms); ${root}`,
    };
  } catch (error) {
    const cause = (error as { cause?: unknown }).cause;
    const code = errorCode(cause ?? error);
    return {
      name,
      status: 'fail',
      detail: `${where}: no answer: ${(error as Error).message} (${code})`,
      ...(code === 'EACCES' ? { hint: 'run as root, or give this user access to it' } : {}),
    };
  } finally {
    await client?.close();
  }
}

function checkUser(): Check {
  const uid = process.getuid?.();
  return {
    name: 'user',
    status: 'ok',
    detail:
      uid === 0
        ? 'root'
        : `uid ${uid ?? 'unknown'}: the Xen devices and xenstored's socket usually need root`,
  };
}

const LABELS: Readonly<Record<Status, string>> = { ok: 'ok', unavailable: '--', fail: 'FAIL' };

function render(checks: readonly Check[]): string {
  const width = Math.max(...checks.map((check) => check.name.length));
  const lines = checks.map((check) => {
    const head = `${LABELS[check.status].padEnd(5)}${check.name.padEnd(width + 2)}${check.detail}\n`;
    return check.hint ? `${head}${' '.repeat(width + 7)}→ ${check.hint}\n` : head;
  });
  const failed = checks.filter((check) => check.status === 'fail').map((check) => check.name);
  const verdict =
    failed.length === 0
      ? 'Everything xenwire needs here works.'
      : `Needed and not working: ${failed.join(', ')}.`;
  return `${lines.join('')}${verdict}\n`;
}

/** `xenwire doctor`: what works on this machine. */
async function runDoctor(args: readonly string[], io: CliIo): Promise<number> {
  const diag = new Diagnostics(io, 'xenwire doctor', wantsJson(args));
  const { values } = parseToolArgs(args, options, usage, io, diag);
  const devices = DEVICES.map(checkDevice);
  const onXen = devices.some((check) => check.status !== 'unavailable');
  const checks = [
    checkNode(),
    checkAddon(onXen),
    ...devices,
    await checkDaemon(io.env),
    checkUser(),
  ];
  const ok = checks.every((check) => check.status !== 'fail');
  io.stdout.write(values.json ? `${JSON.stringify({ ok, checks })}\n` : render(checks));
  return ok ? 0 : 1;
}

export const command: Command = { run: runDoctor };
