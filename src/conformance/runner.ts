import type { Capability, Check } from './check.ts';
import { CheckConnection } from './connection.ts';
import {
  CheckContext,
  type ConformanceTarget,
  DEFAULT_GUEST_DOMIDS,
  DEFAULT_REPLY_TIMEOUT_MS,
} from './context.ts';

/** What happened to one check. */
export type Outcome = 'pass' | 'fail' | 'skip';

/** One check's result. */
export interface CheckResult {
  /** The check that ran (or was skipped). */
  readonly check: Check;
  /** Pass, fail, or skip (the target lacks a capability the check needs). */
  readonly outcome: Outcome;
  /** Why it failed or was skipped. */
  readonly message?: string;
  /** Wall-clock time the check took, in milliseconds (0 when it did not run). */
  readonly durationMs: number;
}

/** Options of {@link runConformance}. */
export interface RunOptions {
  /** Only checks matching this pattern (see {@link matchesPattern}). */
  readonly only?: string;
  /** Longest a single check may take, in milliseconds (default 60000). */
  readonly checkTimeoutMs?: number;
  /** Called with each result as soon as it is known (for streaming reporters). */
  readonly onResult?: (result: CheckResult, index: number, total: number) => void;
}

/** A whole run. */
export interface ConformanceRun {
  /** One result per check selected, in the order they ran. */
  readonly results: readonly CheckResult[];
  /** Set when the server stopped answering: after which check, and how it failed. */
  readonly serverLost?: string;
}

/** Where each check's scratch node lives; removed at the start and end of a run. */
export const SCRATCH_ROOT = '/xenwire-conformance';

const DEFAULT_CHECK_TIMEOUT_MS = 60_000;

/**
 * `--only`: comma-separated alternatives; `*` matches any characters. An alternative without
 * `*` names a check id or a whole area (`watches` is `watches.*`).
 */
export function matchesPattern(id: string, pattern: string): boolean {
  return pattern
    .split(',')
    .map((alternative) => alternative.trim())
    .filter(Boolean)
    .some((alternative) => {
      if (!alternative.includes('*')) return id === alternative || id.startsWith(`${alternative}.`);
      const source = alternative
        .split('*')
        .map((part) => part.replace(/[.+?^${}()|[\]\\]/g, '\\$&'))
        .join('.*');
      return new RegExp(`^${source}$`).test(id);
    });
}

/** The capabilities a target has. */
function capabilities(target: ConformanceTarget): Set<Capability> {
  const have = new Set<Capability>();
  if (target.guests) have.add('guests');
  if (target.guests?.destroy) have.add('domain-death');
  return have;
}

const SKIP_REASONS: Readonly<Record<Capability, string>> = {
  guests: 'needs guest connections (--guest-socket-template or --guest-ring)',
  'domain-death': 'needs a hypervisor that can make a domain die (--guest-ring)',
};

/**
 * Runs the checks against `target`, one at a time, each from a clean scratch node. Checks with
 * a hazard run last. When the server stops answering, the remaining checks fail without running.
 */
export async function runConformance(
  target: ConformanceTarget,
  catalogue: readonly Check[],
  options: RunOptions = {},
): Promise<ConformanceRun> {
  if ((target.guestDomids ?? DEFAULT_GUEST_DOMIDS).length < DEFAULT_GUEST_DOMIDS.length) {
    throw Object.assign(new Error('the suite needs at least three guest domids'), {
      code: 'EINVAL',
    });
  }
  const selected = catalogue.filter(
    (check) => options.only === undefined || matchesPattern(check.id, options.only),
  );
  const ordered = [
    ...selected.filter((check) => !check.hazard),
    ...selected.filter((check) => check.hazard),
  ];
  const have = capabilities(target);
  const timeout = target.replyTimeoutMs ?? DEFAULT_REPLY_TIMEOUT_MS;
  const openScratch = () => CheckConnection.open(target.dom0, 'dom0', timeout);
  let scratch = await openScratch();
  await prepare(scratch, target);
  const results: CheckResult[] = [];
  let serverLost: string | undefined;
  for (const [index, check] of ordered.entries()) {
    const missing = check.needs.find((need) => !have.has(need));
    let result: CheckResult;
    if (serverLost) {
      result = { check, outcome: 'fail', message: `not run: ${serverLost}`, durationMs: 0 };
    } else if (missing) {
      result = { check, outcome: 'skip', message: SKIP_REASONS[missing], durationMs: 0 };
    } else {
      result = await runOne(check, target, index, scratch, options);
      const alive = await stillServing(scratch, openScratch);
      if (alive) scratch = alive;
      else serverLost = `the server stopped answering after ${check.id}`;
    }
    results.push(result);
    options.onResult?.(result, index, ordered.length);
  }
  if (!serverLost) await scratch.request({ op: 'RM', path: SCRATCH_ROOT }).catch(() => {});
  scratch.close();
  return serverLost ? { results, serverLost } : { results };
}

/** Leaves no trace of an earlier, interrupted run: its guests released, its scratch removed. */
async function prepare(scratch: CheckConnection, target: ConformanceTarget): Promise<void> {
  if (target.guests) {
    for (const domid of target.guestDomids ?? DEFAULT_GUEST_DOMIDS) {
      await scratch.request({ op: 'RELEASE', domid });
      await target.guests.dispose(domid);
      await scratch.request({ op: 'RM', path: `/local/domain/${domid}` });
    }
  }
  await scratch.request({ op: 'RM', path: SCRATCH_ROOT });
}

async function runOne(
  check: Check,
  target: ConformanceTarget,
  index: number,
  scratch: CheckConnection,
  options: RunOptions,
): Promise<CheckResult> {
  const started = performance.now();
  const t = new CheckContext(target, `${SCRATCH_ROOT}/c${index + 1}`);
  let failure: string | undefined;
  try {
    await scratch.mkdir(t.base);
    await withTimeout(check.run(t), options.checkTimeoutMs ?? DEFAULT_CHECK_TIMEOUT_MS);
  } catch (error) {
    failure = (error as Error).message;
  }
  const problems = await t.cleanup(scratch);
  if (problems.length > 0) {
    failure = [failure, `cleaning up: ${problems.join('; ')}`].filter(Boolean).join('; ');
  }
  const durationMs = performance.now() - started;
  return failure === undefined
    ? { check, outcome: 'pass', durationMs }
    : { check, outcome: 'fail', message: failure, durationMs };
}

async function withTimeout(work: Promise<void>, ms: number): Promise<void> {
  let timer: NodeJS.Timeout | undefined;
  const expired = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`the check took longer than ${ms} ms`)), ms);
  });
  try {
    await Promise.race([work, expired]);
  } finally {
    clearTimeout(timer);
  }
}

/** The scratch connection if the server still answers on it (or on a new one), else undefined. */
async function stillServing(
  scratch: CheckConnection,
  reopen: () => Promise<CheckConnection>,
): Promise<CheckConnection | undefined> {
  const probe = async (conn: CheckConnection) => {
    await conn.ok({ op: 'GET_DOMAIN_PATH', domid: 0 });
    return conn;
  };
  try {
    return await probe(scratch);
  } catch {
    scratch.close();
    try {
      return await probe(await reopen());
    } catch {
      return undefined;
    }
  }
}
