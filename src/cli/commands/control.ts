import type { XenstoreClient } from '../../xenstore/client.ts';
import { ERRNO } from '../../xenstore/constants.ts';
import { XenstoreError } from '../../xenstore/errors.ts';
import type { Command, Invocation } from '../command.ts';
import { atoi } from '../getopt.ts';
import type { CliIo } from '../io.ts';
import { openTarget, type Target } from '../target.ts';

const help = `Usage: xenwire control [--mock] <command> [<arg>...]

Sends a CONTROL request to xenstored and prints its answer, as Xen 4.17's xenstore-control does.
Commands the C xenstored knows: check, log, logfile, memreport, print, quota, quota-soft,
live-update, help (lists what this daemon supports). Exit status: 0 done, 1 no daemon, 2 usage,
3 the command failed.
  --mock      use an embedded in-memory xenstored with a Domain-0 tree, not the daemon
`;

/**
 * `control <command> [<arg>...]`: Xen 4.17's `xenstore-control`. Sends a CONTROL request and
 * prints the answer; an unsupported command prints the daemon's `help`. Exit status: 0 done, 1 no
 * daemon, 2 usage, 3 the command failed. `live-update` drives a daemon (not stub-domain) update
 * as the C tool does: binary, optional command line, then start, polling while the daemon is busy.
 */
async function runControl(
  args: readonly string[],
  io: CliIo,
  invocation: Invocation,
): Promise<number> {
  // As `xenwire control`, its own options come before the daemon's command; as a
  // `xenstore-control` link, every argument is the daemon's, as in C.
  const mock = invocation.modeArgument && args[0] === '--mock';
  const [command, ...rest] = mock ? args.slice(1) : args;
  if (invocation.modeArgument && command === '--help') {
    io.stdout.write(help);
    return 0;
  }
  if (command === undefined) {
    const argv0 = invocation.modeArgument ? `${invocation.argv0} control` : invocation.argv0;
    io.stderr.write(`Usage:\n${argv0} <command> [<arg>...]\n`);
    return 2;
  }
  let target: Target;
  try {
    target = await openTarget({ mock, env: io.env });
  } catch {
    io.stderr.write('Failed to contact Xenstored.\n');
    return 1;
  }
  try {
    if (command === 'live-update') return await liveUpdate(target.client, rest, io);
    return await plainCommand(target.client, command, rest, io);
  } finally {
    await target.close();
  }
}

/** The answer up to its first nul, as the C tool sees the string. */
async function control(client: XenstoreClient, args: readonly string[]): Promise<string> {
  const reply = await client.control(args);
  const nul = reply.indexOf(0);
  return reply.subarray(0, nul < 0 ? reply.length : nul).toString('utf8');
}

function errnoOf(error: unknown): number {
  return error instanceof XenstoreError ? (error.errno ?? ERRNO.EIO) : ERRNO.EIO;
}

async function plainCommand(
  client: XenstoreClient,
  command: string,
  args: readonly string[],
  io: CliIo,
): Promise<number> {
  let answer: string;
  try {
    answer = await control(client, [command, ...args]);
  } catch (error) {
    if (error instanceof XenstoreError && error.code === 'EINVAL') {
      const help = await control(client, ['help']).catch(() => undefined);
      io.stderr.write(
        help === undefined
          ? 'Error when executing command.\n'
          : `Command not supported. Valid commands are:\n${help}\n`,
      );
    } else {
      io.stderr.write(`Error ${errnoOf(error)} when trying to execute command.\n`);
    }
    return 3;
  }
  if (answer.length > 0) io.stdout.write(`${answer}\n`);
  return 0;
}

async function liveUpdate(
  client: XenstoreClient,
  args: readonly string[],
  io: CliIo,
): Promise<number> {
  let binary: string | undefined;
  let cmdline: string | undefined;
  let timeout = 60;
  let force = false;
  for (let i = 0; i < args.length; i++) {
    const arg = args[i]!;
    if (arg === '-c' || arg === '-t') {
      const value = args[++i];
      if (value === undefined) {
        io.stderr.write(arg === '-c' ? 'Missing command line value\n' : 'Missing timeout value\n');
        return 2;
      }
      if (arg === '-c') cmdline = value;
      else timeout = atoi(value) >>> 0;
    } else if (arg === '-F') {
      force = true;
    } else {
      binary = arg;
    }
  }
  if (binary === undefined) {
    const current = await client.read('/tool/xenstored').catch(() => undefined);
    if (current === undefined) {
      io.stderr.write('No live-update support of xenstore\n');
      return 3;
    }
    binary = current.toString('utf8');
  }
  const stubdom = await client
    .read('/tool/xenstored/domid')
    .then(() => true)
    .catch(() => false);
  if (stubdom) {
    io.stderr.write('Starting live update failed:\nstub-domain live update is not supported\n');
    return 3;
  }
  const step = async (args: string[], failure: string): Promise<boolean> => {
    const answer = await control(client, ['live-update', ...args]).catch(
      (error: unknown) => `${(error as Error).message}`,
    );
    if (answer === 'OK') return true;
    io.stderr.write(`${failure}:\n${answer}\n`);
    return false;
  };
  if (!(await step(['-f', binary], 'Setting update binary failed'))) return 3;
  const started =
    (cmdline === undefined || (await step(['-c', cmdline], 'Setting update binary failed'))) &&
    (await startUpdate(client, force, timeout, io));
  if (started) return 0;
  await control(client, ['live-update', '-a']).catch(() => undefined);
  return 3;
}

async function startUpdate(
  client: XenstoreClient,
  force: boolean,
  timeout: number,
  io: CliIo,
): Promise<boolean> {
  const args = ['live-update', '-s', '-t', String(timeout), ...(force ? ['-F'] : [])];
  // Two seconds more than the daemon's own timeout, so that it reports back first.
  const deadline = Date.now() + (timeout + 2) * 1000;
  let answer = 'BUSY';
  while (answer === 'BUSY' && Date.now() < deadline) {
    answer = await control(client, args).catch((error: unknown) => (error as Error).message);
    if (answer === 'BUSY') await new Promise((resolve) => setTimeout(resolve, 10));
  }
  if (answer === 'OK') return true;
  io.stderr.write(`Starting live update failed:\n${answer}\n`);
  return false;
}

export const command: Command = { run: runControl };
