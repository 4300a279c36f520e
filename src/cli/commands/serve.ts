import { dirname } from 'node:path';
import { FaultSpecError, parseFaultSpec } from '../../xenstore/faults/plan.ts';
import { serve } from '../../xenstore/serve.ts';
import { dom0Tree } from '../../xenstore/server/dom0-tree.ts';
import type { Command } from '../command.ts';
import { FAULT_OPTIONS, FAULT_USAGE, faultSpecOf } from '../fault-options.ts';
import { type CliIo, Diagnostics, USAGE_ERROR, wantsJson } from '../io.ts';
import { parseToolArgs } from '../tool-args.ts';

const options = {
  socket: { type: 'string', default: 'xenstored.sock' },
  'dom0-tree': { type: 'boolean' },
  seed: { type: 'string' },
  load: { type: 'string' },
  'guest-domains': { type: 'string' },
  'guest-socket-dir': { type: 'string' },
  trace: { type: 'string' },
  'eagain-rate': { type: 'string' },
  ...FAULT_OPTIONS,
  'xen-version': { type: 'string' },
  conflicts: { type: 'string' },
  help: { type: 'boolean', short: 'h' },
  // The names `npm start` used before it ran this command.
  guests: { type: 'string' },
  'guest-dir': { type: 'string' },
  'commit-failure-rate': { type: 'string' },
  version: { type: 'string' },
} as const;

const renamed = {
  guests: 'guest-domains',
  'guest-dir': 'guest-socket-dir',
  'commit-failure-rate': 'eagain-rate',
  version: 'xen-version',
} as const;

const usage = `Usage: xenwire serve [--socket PATH] [--dom0-tree | --seed FILE | --load STREAM]
       [--guest-domains 1,2]
       [--guest-socket-dir DIR] [--trace FILE] [--eagain-rate R] [--fault-seed N]
       [--xen-version 4.17|current] [--conflicts generation|coalesce] [faults...]

Runs the in-memory xenstored on a unix socket until interrupted, then removes its sockets. Prints
"listening on PATH" once it answers, then "domain N on PATH" for each guest socket.
  --socket PATH            the Domain-0 (privileged) socket; default ./xenstored.sock
  --dom0-tree              start with a freshly booted host's Domain-0 tree (npm start does)
  --seed FILE              start with a JSON store dump (XenstoreServer.dump())
  --load STREAM            start with a xenstore migration stream (\`xenwire snapshot\`, or C
                           xenstored's live-update state)
                           Without any, the store is a fresh C xenstored's: /tool/xenstored.
  --guest-domains 1,2      create and introduce these guest domains, each with a socket
                           dom<N>.sock on which every connection is that domain
  --guest-socket-dir DIR   where the guest sockets go; default the --socket's directory
  --trace FILE             append every message as a JSON line
  --eagain-rate R          fail this fraction (0 to 1) of transaction commits with EAGAIN
  --fault-seed N           seed of those failures and of the faults below, for repeatable runs
  --xen-version V          4.17: the C 4.17 daemon's answers where later ones differ; or current
  --conflicts P            generation (C's per-node check, the default) or coalesce

${FAULT_USAGE}`;

/** A guest domid: what xl hands out (1 to 0x7fef). */
function parseDomid(diag: Diagnostics, name: string, text: string): number {
  const domid = Number(text);
  if (!/^\d+$/.test(text) || domid < 1 || domid >= 0x7ff0) {
    diag.errx(`${name}: ${JSON.stringify(text)} is not a guest domid (1 to 32751)`, USAGE_ERROR, 2);
  }
  return domid;
}

function parseRate(diag: Diagnostics, name: string, text: string | undefined): number | undefined {
  if (text === undefined) return undefined;
  const rate = Number(text);
  if (!(rate >= 0 && rate <= 1)) {
    diag.errx(`${name} must be between 0 and 1, not ${text}`, USAGE_ERROR, 2);
  }
  return rate;
}

/** `xenwire serve`: the in-memory xenstored, stopped cleanly by SIGINT or SIGTERM. */
async function runServe(args: readonly string[], io: CliIo): Promise<number> {
  const diag = new Diagnostics(io, 'xenwire serve', wantsJson(args));
  const { values } = parseToolArgs(args, options, usage, io, diag);
  for (const [old, current] of Object.entries(renamed)) {
    const given = values[old as keyof typeof renamed];
    if (given === undefined) continue;
    diag.warnx(`--${old} is deprecated: use --${current}`);
    values[current] ??= given;
  }
  const version = values['xen-version'];
  if (version !== undefined && version !== '4.17' && version !== 'current') {
    return diag.errx(`--xen-version is 4.17 or current, not ${version}`, USAGE_ERROR, 2);
  }
  const conflicts = values.conflicts;
  if (conflicts !== undefined && conflicts !== 'generation' && conflicts !== 'coalesce') {
    return diag.errx(`--conflicts is generation or coalesce, not ${conflicts}`, USAGE_ERROR, 2);
  }
  const starts = [
    values['dom0-tree'] && '--dom0-tree',
    values.seed && '--seed',
    values.load && '--load',
  ];
  if (starts.filter(Boolean).length > 1) {
    return diag.errx(
      `${starts.filter(Boolean).join(' and ')} each give the whole tree: give one`,
      USAGE_ERROR,
      2,
    );
  }
  const guestDomains = values['guest-domains']
    ?.split(',')
    .filter(Boolean)
    .map((text) => parseDomid(diag, '--guest-domains', text));
  const faultSeed = values['fault-seed'];
  if (faultSeed !== undefined && !/^\d+$/.test(faultSeed)) {
    return diag.errx(`--fault-seed takes a non-negative integer, not ${faultSeed}`, USAGE_ERROR, 2);
  }
  let faults = faultSpecOf(values);
  if (faults) {
    try {
      // Parsed here to refuse a bad spec before serving, and to print the seed it runs with.
      faults = { ...faults, seed: parseFaultSpec(faults).seed };
    } catch (error) {
      if (error instanceof FaultSpecError) return diag.errx(error.message, USAGE_ERROR, 2);
      throw error;
    }
  }
  const served = await serve({
    socketPath: values.socket,
    ...(values.seed
      ? { seedFile: values.seed }
      : { seed: { nodes: values['dom0-tree'] ? dom0Tree() : [] } }),
    ...(values.load ? { migrationStreamFile: values.load } : {}),
    guestDomains,
    guestSocketDir: values['guest-socket-dir'] ?? dirname(values.socket),
    trace: values.trace,
    commitFailureRate: parseRate(diag, '--eagain-rate', values['eagain-rate']),
    faultSeed: faultSeed === undefined ? undefined : Number(faultSeed),
    version,
    conflicts,
    ...(faults && { faults }),
  });
  io.stdout.write(`listening on ${served.socketPath}\n`);
  if (faults) io.stdout.write(`faults seeded with ${faults.seed}\n`);
  for (const [domid, path] of served.guestSockets) io.stdout.write(`domain ${domid} on ${path}\n`);
  await new Promise<void>((resolve) => {
    if (io.signal?.aborted) resolve();
    io.signal?.addEventListener('abort', () => resolve(), { once: true });
  });
  await served.close();
  io.stderr.write('xenwire serve: stopped\n');
  return 0;
}

export const command: Command = { run: runServe, interruptible: true };
