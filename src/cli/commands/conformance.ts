import {
  BUILT_IN_EXPECTATIONS,
  CATALOGUE,
  type ConformanceTarget,
  conforms,
  type Expectations,
  formatJson,
  formatJunit,
  formatTap,
  judge,
  loadExpectations,
  matchesPattern,
  ringGuests,
  runConformance,
  socketTemplateGuests,
} from '../../conformance/index.ts';
import { defaultSocketPath, socketConnector } from '../../xenstore/index.ts';
import type { Command } from '../command.ts';
import { FUZZ_USAGE, runConformanceFuzz } from '../conformance-fuzz.ts';
import { type CliIo, Diagnostics, USAGE_ERROR, wantsJson } from '../io.ts';
import { parseToolArgs } from '../tool-args.ts';

const options = {
  socket: { type: 'string' },
  'guest-socket-template': { type: 'string' },
  'guest-ring': { type: 'string' },
  'guest-domids': { type: 'string' },
  only: { type: 'string' },
  format: { type: 'string', default: 'tap' },
  expect: { type: 'string' },
  implementation: { type: 'string' },
  timeout: { type: 'string' },
  list: { type: 'boolean' },
  fuzz: { type: 'boolean' },
  against: { type: 'string' },
  runs: { type: 'string' },
  seed: { type: 'string' },
  'max-steps': { type: 'string' },
  help: { type: 'boolean', short: 'h' },
} as const;

const IMPLEMENTATIONS = Object.keys(BUILT_IN_EXPECTATIONS).join('|');

const usage = `Usage: xenwire conformance [--socket PATH]
       [--guest-socket-template 'DIR/dom{domid}.sock' | --guest-ring SHIM_DIR]
       [--guest-domids 1,2,3] [--only PATTERN] [--format tap|junit|json]
       [--expect FILE | --implementation ${IMPLEMENTATIONS}] [--timeout MS] [--list]

Runs the xenstore conformance checks against the server on --socket (default: where libxenstore
looks, $XENSTORED_PATH first) and prints a report. The suite writes below /xenwire-conformance,
and introduces, uses and releases the guest domains of --guest-domids: run it against a server
you may disturb.

Guest connections (checks needing them are skipped without):
  --guest-socket-template T  every connection to T, {domid} replaced, is that domain's
                             (xenwire serve --guest-domains 1,2,3 --guest-socket-dir DIR)
  --guest-ring SHIM_DIR      guests on shared-memory rings of a daemon under xenwire's shim
                             (harness/README.md): the C xenstored or oxenstored
--only      comma-separated check ids or areas, * matching anything (watches,*eacces*)
--expect    a JSON file of known failures ({implementation, description, knownFailures});
--implementation  one shipped with xenwire. Listed failures are reported as known
            differences; a listed check that passes fails the run as a stale expectation.
Exit status: 0 when no check failed unexpectedly, 1 otherwise, 2 for bad usage.

       xenwire conformance --fuzz --against REF_SOCKET [--socket PATH] [--runs N] [--seed S]
       [--max-steps M] [--timeout MS]
${FUZZ_USAGE}`;

const FORMATS = { tap: formatTap, junit: formatJunit, json: formatJson } as const;

/** `xenwire conformance`: the conformance suite against one server. */
async function runConformanceCommand(args: readonly string[], io: CliIo): Promise<number> {
  const diag = new Diagnostics(io, 'xenwire conformance', wantsJson(args));
  const { values } = parseToolArgs(args, options, usage, io, diag);
  if (values.fuzz) return runConformanceFuzz(values, io, diag);
  if (values.list) {
    const listed = CATALOGUE.filter((c) => !values.only || matchesPattern(c.id, values.only));
    for (const check of listed) io.stdout.write(`${check.id}\t${check.level}\t${check.rule}\n`);
    return 0;
  }
  const format = FORMATS[values.format as keyof typeof FORMATS];
  if (!format)
    return diag.errx(`--format is tap, junit or json, not ${values.format}`, USAGE_ERROR, 2);
  if (values['guest-socket-template'] && values['guest-ring']) {
    return diag.errx('give --guest-socket-template or --guest-ring, not both', USAGE_ERROR, 2);
  }
  if (values.expect && values.implementation) {
    return diag.errx('give --expect or --implementation, not both', USAGE_ERROR, 2);
  }
  const expectations = chooseExpectations(values.expect, values.implementation, diag);
  const socket = values.socket ?? defaultSocketPath(io.env);
  const target: ConformanceTarget = {
    dom0: socketConnector(socket),
    ...(values['guest-socket-template']
      ? { guests: socketTemplateGuests(values['guest-socket-template']) }
      : values['guest-ring']
        ? { guests: ringGuests(values['guest-ring']) }
        : {}),
    ...(values['guest-domids'] ? { guestDomids: parseDomids(values['guest-domids'], diag) } : {}),
    ...(values.timeout ? { replyTimeoutMs: parseTimeout(values.timeout, diag) } : {}),
  };
  const description = [socket, target.guests?.description].filter(Boolean).join(', ');
  const run = judge(await runConformance(target, CATALOGUE, { only: values.only }), expectations);
  io.stdout.write(format(run, description));
  return conforms(run) ? 0 : 1;
}

function chooseExpectations(
  file: string | undefined,
  name: string | undefined,
  diag: Diagnostics,
): Expectations | undefined {
  if (file) {
    try {
      return loadExpectations(file, CATALOGUE);
    } catch (error) {
      return diag.errx((error as Error).message, USAGE_ERROR, 2);
    }
  }
  if (name === undefined) return undefined;
  return (
    BUILT_IN_EXPECTATIONS[name] ??
    diag.errx(`--implementation is ${IMPLEMENTATIONS}, not ${name}`, USAGE_ERROR, 2)
  );
}

function parseDomids(text: string, diag: Diagnostics): number[] {
  const domids = text.split(',').map((part) => part.trim());
  if (domids.some((part) => !/^\d+$/.test(part) || Number(part) === 0 || Number(part) >= 0x7ff0)) {
    diag.errx(
      `--guest-domids takes guest domids (1-32751) separated by commas, not ${text}`,
      USAGE_ERROR,
      2,
    );
  }
  return domids.map(Number);
}

function parseTimeout(text: string, diag: Diagnostics): number {
  if (!/^\d+$/.test(text) || Number(text) === 0) {
    diag.errx(`--timeout takes milliseconds, not ${text}`, USAGE_ERROR, 2);
  }
  return Number(text);
}

export const command: Command = { run: runConformanceCommand };
