import { defaultSocketPath } from '../xenstore/index.ts';
import { type CliIo, type Diagnostics, USAGE_ERROR } from './io.ts';

/** The options of `xenwire conformance --fuzz`. */
export interface FuzzValues {
  readonly socket?: string;
  readonly against?: string;
  readonly runs?: string;
  readonly seed?: string;
  readonly 'max-steps'?: string;
}

export const FUZZ_USAGE = `Random exploration (--fuzz): random request scripts on three dom0 connections, each run
on the reference (--against) and then on the server under test (--socket), the replies and watch
events compared byte for byte; the first difference is shrunk to a short script. A server that
stops answering a fresh connection, or takes over --timeout ms (default 30000) for a script,
counts as crashed. --runs N (default 1000), --seed S (printed; repeat a run with it),
--max-steps M (default 25). Both servers must start alike (e.g. two fresh daemons): before each
script, /d and /local are removed and every quota is set back to C 4.17's default; the scripts
introduce and release domains 1-3.
Exit status: 0 no finding, 1 a divergence, 3 the reference crashed, 4 the server under test
crashed, 2 bad usage.
`;

const EXIT = { divergence: 1, 'reference-crash': 3, 'candidate-crash': 4 } as const;

/** `xenwire conformance --fuzz --against REF`: differential scripts between two servers. */
export async function runConformanceFuzz(
  values: FuzzValues & { readonly timeout?: string },
  io: CliIo,
  diag: Diagnostics,
): Promise<number> {
  if (!values.against) return diag.errx('--fuzz needs --against REF_SOCKET', USAGE_ERROR, 2);
  const count = (name: string, text: string | undefined, fallback: number) => {
    if (text === undefined) return fallback;
    if (!/^\d+$/.test(text) || Number(text) === 0) {
      return diag.errx(`${name} takes a positive integer, not ${text}`, USAGE_ERROR, 2);
    }
    return Number(text);
  };
  const runs = count('--runs', values.runs, 1000);
  const maxSteps = count('--max-steps', values['max-steps'], 25);
  const deadline = count('--timeout', values.timeout, 30_000);
  const seed =
    values.seed === undefined
      ? Math.floor(Math.random() * 2 ** 31)
      : count('--seed', values.seed, 0);
  // fast-check generates and shrinks the scripts; it is loaded only for this mode.
  let fuzz: typeof import('../conformance/fuzz/index.ts');
  try {
    fuzz = await import('../conformance/fuzz/index.ts');
  } catch (error) {
    return diag.errx(
      `--fuzz needs the fast-check package (npm install fast-check): ${(error as Error).message.split('\n')[0]}`,
      { code: 'ENOSYS' },
      2,
    );
  }
  const reference = fuzz.socketTarget(`reference (${values.against})`, values.against);
  const socket = values.socket ?? defaultSocketPath(io.env);
  const candidate = fuzz.socketTarget(`server under test (${socket})`, socket);
  for (const target of [reference, candidate]) {
    const down = await target.failure(5000);
    if (down)
      return diag.errx(`cannot reach the ${target.name}: ${down}`, { path: target.socketPath }, 2);
  }
  io.stdout.write(`fuzzing ${runs} scripts, seed ${seed}\n`);
  const finding = await fuzz.checkDifferential(reference, candidate, {
    runs,
    seed,
    maxSteps,
    deadlineMs: deadline,
  });
  if (finding === undefined) {
    io.stdout.write(`${runs} scripts: no divergence, no crash\n`);
    return 0;
  }
  io.stdout.write(`${finding.report}\n`);
  return EXIT[finding.kind];
}
