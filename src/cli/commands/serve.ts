import { serve } from '../../xenstore/server.ts';
import { type CliIo, Diagnostics } from '../io.ts';
import { parseToolArgs } from '../tool-args.ts';

const options = {
  socket: { type: 'string', default: 'xenstored.sock' },
  seed: { type: 'string' },
  load: { type: 'string' },
  'guest-domains': { type: 'string' },
  'guest-socket-dir': { type: 'string' },
  trace: { type: 'string' },
  'eagain-rate': { type: 'string' },
  'fault-seed': { type: 'string' },
  'xen-version': { type: 'string' },
  help: { type: 'boolean', short: 'h' },
} as const;

const usage = `Usage: xenwire serve [--socket PATH] [--seed FILE | --load STREAM] [--guest-domains 1,2]
       [--guest-socket-dir DIR] [--trace FILE] [--eagain-rate R] [--fault-seed N]
       [--xen-version 4.17|current]

Runs the in-memory xenstored on a unix socket (default ./xenstored.sock) until interrupted, then
removes its sockets. The store starts as a fresh C xenstored's (/, /tool, /tool/xenstored)
unless --seed names a JSON store dump, or --load a xenstore migration stream (\`xenwire snapshot\`,
C xenstored's live-update state). --eagain-rate fails that fraction of transaction commits
with EAGAIN. Prints "listening on PATH" once it answers.
`;

function parseRate(diag: Diagnostics, text: string | undefined): number | undefined {
  if (text === undefined) return undefined;
  const rate = Number(text);
  if (!(rate >= 0 && rate <= 1)) diag.errx(`--eagain-rate must be between 0 and 1, not ${text}`);
  return rate;
}

function parseInteger(diag: Diagnostics, name: string, text: string): number {
  if (!/^\d+$/.test(text)) diag.errx(`${name} takes non-negative integers, not ${text}`);
  return Number(text);
}

/** `xenwire serve`: the in-memory xenstored, stopped cleanly by SIGINT or SIGTERM. */
export async function runServe(args: readonly string[], io: CliIo): Promise<number> {
  const diag = new Diagnostics(io, 'xenwire serve');
  const { values } = parseToolArgs(args, options, usage, io, diag);
  const version = values['xen-version'];
  if (version !== undefined && version !== '4.17' && version !== 'current') {
    return diag.errx(`--xen-version is 4.17 or current, not ${version}`, 2);
  }
  const guestDomains = values['guest-domains']
    ?.split(',')
    .filter(Boolean)
    .map((text) => parseInteger(diag, '--guest-domains', text));
  const served = await serve({
    socketPath: values.socket,
    ...(values.seed ? { seedFile: values.seed } : { seed: { nodes: [] } }),
    ...(values.load ? { migrationStreamFile: values.load } : {}),
    guestDomains,
    guestSocketDir: values['guest-socket-dir'],
    trace: values.trace,
    commitFailureRate: parseRate(diag, values['eagain-rate']),
    faultSeed:
      values['fault-seed'] === undefined
        ? undefined
        : parseInteger(diag, '--fault-seed', values['fault-seed']),
    version,
  });
  io.stdout.write(`listening on ${served.socketPath}\n`);
  for (const [domid, path] of served.guestSockets) io.stdout.write(`domain ${domid} on ${path}\n`);
  await new Promise<void>((resolve) => {
    if (io.signal?.aborted) resolve();
    io.signal?.addEventListener('abort', () => resolve(), { once: true });
  });
  await served.close();
  io.stderr.write('xenwire serve: stopped\n');
  return 0;
}
