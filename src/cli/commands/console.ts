import { once } from 'node:events';
import type { Readable } from 'node:stream';
import { type ConsoleStream, openConsole } from '../../console/index.ts';
import { xenPlatform } from '../../xenbus/index.ts';
import type { Command } from '../command.ts';
import { type CliIo, Diagnostics, isCliExit, USAGE_ERROR } from '../io.ts';
import { strerror } from '../strerror.ts';
import { connectErrorCode, openTarget } from '../target.ts';
import { parseToolArgs } from '../tool-args.ts';

const options = {
  help: { type: 'boolean', short: 'h' },
} as const;

const usage = `Usage: xenwire console DOMID

Attaches to the PV console of domain DOMID as its backend, in xenconsoled's place (a console
xenconsoled serves is refused: use xl console for it). On a terminal it is interactive, like
xl console: raw mode, Ctrl-] detaches. Otherwise the guest's output is copied to stdout and
stdin to the guest, until the domain goes away or the command is interrupted.
`;

/** Ctrl-], xl console's escape. */
const ESCAPE = 0x1d;

/** The terminal or pipe the command reads the user's input from. */
export type ConsoleInput = Readable & {
  readonly isTTY?: boolean;
  setRawMode?(raw: boolean): unknown;
};

/** An attached console, and how to let go of what attaching took. */
export interface AttachedConsole {
  readonly console: ConsoleStream;
  close(): Promise<void>;
}

/** What the command needs from the world; tests give it a simulated host. */
export interface ConsoleDeps {
  readonly stdin: ConsoleInput;
  attach(domid: number, io: CliIo): Promise<AttachedConsole>;
}

/** Dom0 on real Xen: xenstored as the drop-in tools find it, the devices through the addon. */
const onXen: ConsoleDeps = {
  stdin: process.stdin,
  async attach(domid, io) {
    const diag = new Diagnostics(io, 'xenwire console');
    let target: Awaited<ReturnType<typeof openTarget>>;
    try {
      target = await openTarget({ env: io.env });
    } catch (error) {
      const code = connectErrorCode(error);
      return diag.errx(`cannot connect to xenstored: ${strerror(code)}`, { code });
    }
    try {
      const platform = xenPlatform({ client: target.client });
      try {
        const stream = await openConsole({ client: target.client, platform, domid });
        return {
          console: stream,
          async close() {
            stream.destroy();
            if (!stream.closed) await once(stream, 'close');
            platform.close();
            await target.close();
          },
        };
      } catch (error) {
        platform.close();
        throw error;
      }
    } catch (error) {
      await target.close();
      throw error;
    }
  },
};

/**
 * `console DOMID`: the guest's console on this terminal (interactive, Ctrl-] detaches) or
 * between stdin and stdout. Exits 0 when detached, interrupted or when the domain goes away.
 */
export async function runConsole(
  args: readonly string[],
  io: CliIo,
  deps: ConsoleDeps = onXen,
): Promise<number> {
  const diag = new Diagnostics(io, 'xenwire console');
  const { positionals } = parseToolArgs(args, options, usage, io, diag, true);
  if (positionals.length !== 1 || !/^[1-9]\d*$/.test(positionals[0] as string)) {
    return diag.errx(`one DOMID (a guest's domain number) expected\n${usage}`, USAGE_ERROR, 2);
  }
  const domid = Number(positionals[0]);
  let attached: AttachedConsole;
  try {
    attached = await deps.attach(domid, io);
  } catch (error) {
    if (isCliExit(error)) throw error;
    const code = (error as { code?: unknown }).code;
    return diag.errx((error as Error).message, typeof code === 'string' ? { code } : {});
  }
  const guest = attached.console;
  const { stdin } = deps;
  const interactive = Boolean(stdin.isTTY && io.stdout.isTTY && stdin.setRawMode);
  if (interactive) stdin.setRawMode?.(true);
  let finish: (status: number) => void = () => {};
  const finished = new Promise<number>((resolve) => {
    finish = resolve;
  });
  const onInput = (chunk: Buffer): void => {
    const at = interactive ? chunk.indexOf(ESCAPE) : -1;
    if (at < 0) {
      guest.write(chunk);
      return;
    }
    if (at > 0) guest.write(chunk.subarray(0, at));
    finish(0);
  };
  const onInputEnd = (): void => {
    // No more input; the guest's output goes on.
    guest.end();
  };
  const onOutput = (chunk: Buffer): void => {
    io.stdout.write(chunk);
  };
  const onGone = (): void => finish(0);
  const onError = (error: Error): void => {
    diag.warnx(error.message);
    finish(1);
  };
  const onAbort = (): void => finish(0);
  stdin.on('data', onInput);
  stdin.on('end', onInputEnd);
  guest.on('data', onOutput);
  guest.on('end', onGone);
  guest.on('error', onError);
  io.signal?.addEventListener('abort', onAbort);
  if (io.signal?.aborted) finish(0);
  try {
    return await finished;
  } finally {
    io.signal?.removeEventListener('abort', onAbort);
    stdin.off('data', onInput);
    stdin.off('end', onInputEnd);
    stdin.pause();
    if (interactive) stdin.setRawMode?.(false);
    guest.off('data', onOutput);
    await attached.close().catch((error: Error) => diag.warnx(error.message));
  }
}

/** `xenwire console`: interruptible, so that the port, page and `tty` are let go of. */
export const command: Command = { run: (args, io) => runConsole(args, io), interruptible: true };
