/**
 * The performance goals (issue 24), each judged in every condition from the medians of that
 * condition's pairs. A verdict names its condition: a goal met only where, say, the other CPU is
 * idle is met in that condition alone.
 */
import { type BusyPoll, DEFAULT_BUSY_POLL } from '../../src/event-loop/busy-poller.ts';
import type { Condition } from './conditions.ts';
import { formatRate, formatRatio, formatSeconds } from './format.ts';
import type { MeasuredPair, PairOutcome } from './outcome.ts';
import type { CpuRole } from './types.ts';

/** `NOT MEASURED` when a pair the goal rests on did not run (skipped, failed). */
export type Verdict = 'PASS' | 'FAIL' | 'NOT MEASURED';

/** One goal's verdict in one condition. */
export interface GoalVerdict {
  readonly goal: string;
  /** What must hold. */
  readonly statement: string;
  readonly condition: string;
  readonly verdict: Verdict;
  /** The figures the verdict rests on, or why there are none. */
  readonly figures: string;
  /**
   * The figures of the goal's bound, measured in the same condition: the most any
   * implementation of the candidate's kind reaches here.
   */
  readonly bound?: string;
  /** False when even the bound misses the goal here: no implementation of that kind can meet it. */
  readonly reachable?: boolean;
}

/** Whether a goal holds (undefined when a figure is missing), and the figures that say so. */
export interface Judgement {
  readonly pass?: boolean;
  readonly figures: string;
}

/** What the most any implementation of the candidate's kind reaches, judged as the goal is. */
export interface GoalBound {
  /** The pair measuring it. */
  readonly pair: string;
  /** Whether the pair's candidate would meet the goal, and its figures. */
  judge(pair: MeasuredPair): Judgement;
}

/** A goal: what must hold, and how its pairs show it. */
export interface Goal {
  readonly id: string;
  readonly statement: string;
  /** The pairs it is judged from, in the order `judge` receives them. */
  readonly pairs: readonly string[];
  /** Whether the goal is about this condition (default: every condition). */
  readonly appliesIn?: (condition: Condition) => boolean;
  /** The verdict from the measured pairs: `pass` undefined when a figure is missing. */
  judge(pairs: readonly MeasuredPair[]): Judgement;
  /**
   * Where the goal may lie beyond what any implementation can do, the pair that says how far one
   * can go; it runs whenever the goal is judged, and a verdict carries its figures.
   */
  readonly bound?: GoalBound;
}

/** Rate and CPU of candidate vs baseline: rate ≥ `minRate`× and the role's CPU/op ≤ `maxCpu`×. */
function asFastAsCheaper(
  id: string,
  pair: string,
  what: string,
  minRate: number,
  role: CpuRole,
  maxCpu: number,
  boundPair?: string,
): Goal {
  const figuresOf = (p: MeasuredPair): string => `${rateFigures(p)}; ${cpuFigures(p, role)}`;
  const judge = (p: MeasuredPair): Judgement => {
    const cpu = p.cpuRatio[role];
    const figures = figuresOf(p);
    if (!cpu) return { figures };
    return { pass: p.ratio.median >= minRate && cpu.median <= maxCpu, figures };
  };
  return {
    id,
    statement: `${what}: rate ≥ ${formatRatio(minRate)} and ${role} CPU/op ≤ ${formatRatio(maxCpu)}`,
    pairs: [pair],
    judge: ([p]) => judge(p!),
    ...(boundPair
      ? {
          bound: {
            pair: boundPair,
            // Out of reach only if even the bound's best pairs miss, not its median on a bad day.
            judge: (p) => {
              const cpu = p.cpuRatio[role];
              const figures = figuresOf(p);
              if (!cpu) return { figures };
              return {
                pass: p.ratio.max >= minRate && cpu.min <= maxCpu,
                figures: `${figures}; best pairs: rate ${formatRatio(p.ratio.max)}, ${role} CPU/op ${formatRatio(cpu.min)}`,
              };
            },
          },
        }
      : {}),
  };
}

/**
 * The goal for the default `busyPoll`: it never costs more CPU per op than sleeping where
 * it is not faster. The pair runs `busyPoll: 'adaptive'` (candidate) against `false`
 * (baseline). With the default `false` the goal holds by construction (it is sleeping), and the
 * figures say where turning `'adaptive'` on pays; were the default `'adaptive'` (`defaultMode`),
 * the pair would judge it.
 */
export function defaultSpinsOnlyWhereItPays(
  id: string,
  pair: string,
  what: string,
  role: CpuRole,
  defaultMode: BusyPoll = DEFAULT_BUSY_POLL,
): Goal {
  return {
    id,
    statement: `${what}: the default busyPoll (${String(defaultMode)}) costs no more ${role} CPU/op than sleeping unless faster`,
    pairs: [pair],
    judge: ([p]) => {
      const cpu = p!.cpuRatio[role];
      const faster = p!.ratio.median > 1;
      const pays = faster || (cpu !== undefined && cpu.median <= 1);
      const adaptive = `busyPoll 'adaptive': ${rateFigures(p!)} (${faster ? 'faster' : 'not faster'}); ${cpuFigures(p!, role)}`;
      if (defaultMode === false) {
        return {
          pass: true,
          figures: `the default never spins; turning on ${adaptive}: ${pays ? 'pays here' : 'does not pay here'}`,
        };
      }
      if (defaultMode === true) {
        return { figures: `the pair measures 'adaptive', not the default (always spinning)` };
      }
      return cpu ? { pass: pays, figures: adaptive } : { figures: adaptive };
    },
  };
}

const onOneCpu = (condition: Condition): boolean => condition.cpu !== undefined;

/** The least a Node client does per round trip (`bench/lib/least-client-process.ts`) vs C's. */
export const LEAST_NODE_CLIENT = 'xenstore.bound.node-client';

/** The least a Node client does per round trip over dom0's ring vs the C ring client's. */
export const LEAST_NODE_RING = 'xenstore.bound.node-ring';

/** The C loop against a daemon that does nothing (`bench/c/null-xenstored.c`) vs C xenstored. */
export const NULL_DAEMON = 'xenstore.bound.null-daemon';

/** The share of the socket floor the in-memory xenstored must reach on one CPU. */
const FLOOR_SHARE = 0.6;

/** `p`'s candidate as a fraction of the floor, judged against {@link FLOOR_SHARE}. */
function floorShare(p: MeasuredPair): Judgement {
  if (!p.ofFloor) return { figures: 'the floor was not measured' };
  const fraction = p.ofFloor.candidate;
  return {
    pass: fraction >= FLOOR_SHARE,
    figures: `${p.candidate.label} ${fraction.toFixed(2)} of the floor (${formatRate(p.ofFloor.floorRate)} round trips/s)`,
  };
}

/** The goals, in the order they are printed. */
export const GOALS: readonly Goal[] = [
  asFastAsCheaper(
    'client.read',
    'xenstore.seq.read',
    'client READ one at a time vs C libxenstore',
    1,
    'client',
    1.2,
    LEAST_NODE_CLIENT,
  ),
  asFastAsCheaper(
    'client.write',
    'xenstore.seq.write',
    'client WRITE one at a time vs C libxenstore',
    1,
    'client',
    1.2,
    LEAST_NODE_CLIENT,
  ),
  asFastAsCheaper(
    'client.directory',
    'xenstore.seq.directory',
    'client DIRECTORY one at a time vs C libxenstore',
    1,
    'client',
    1.2,
    LEAST_NODE_CLIENT,
  ),
  asFastAsCheaper(
    'server.mock',
    'xenstore.server.mock',
    'in-memory xenstored under the C loop vs C xenstored',
    1.25,
    'daemon',
    1,
  ),
  {
    id: 'server.floor',
    statement: `in-memory xenstored under the C loop, on one CPU: ≥ ${FLOOR_SHARE.toFixed(2)} of the socket floor`,
    pairs: ['xenstore.server.mock'],
    appliesIn: onOneCpu,
    judge: ([p]) => floorShare(p!),
    bound: {
      pair: NULL_DAEMON,
      // As for the other bounds, out of reach only if even its best pair misses.
      judge: (p) => {
        const median = floorShare(p);
        if (!p.ofFloor) return median;
        const best =
          (p.ofFloor.candidate * Math.max(...p.candidate.rates)) / p.candidate.medianRate;
        return {
          pass: best >= FLOOR_SHARE,
          figures: `${median.figures}; best pair ${best.toFixed(2)}`,
        };
      },
    },
  },
  defaultSpinsOnlyWhereItPays(
    'busypoll.client',
    'xenstore.busypoll.read',
    'client READ one at a time',
    'client',
  ),
  defaultSpinsOnlyWhereItPays(
    'busypoll.server',
    'xenstore.busypoll.server',
    'in-memory xenstored under the C loop',
    'daemon',
  ),
  asFastAsCheaper(
    'ring.read',
    'xenstore.ring.read',
    'client READ over the ring vs a C ring client',
    1,
    'client',
    1.2,
    LEAST_NODE_RING,
  ),
  asFastAsCheaper(
    'ring.write',
    'xenstore.ring.write',
    'client WRITE over the ring vs a C ring client',
    1,
    'client',
    1.2,
    LEAST_NODE_RING,
  ),
  {
    id: 'memory.per-node',
    statement: 'the same 50,000-node tree: memory per node ≤ C xenstored’s',
    pairs: ['xenstore.large.memory'],
    judge: ([p]) => {
      const mine = p!.candidate.extra['bytesPerNode'];
      const theirs = p!.baseline.extra['bytesPerNode'];
      if (mine === undefined || theirs === undefined) return { figures: 'no bytesPerNode figures' };
      return {
        pass: mine <= theirs,
        figures: `${p!.candidate.label} ${Math.round(mine)} vs ${p!.baseline.label} ${Math.round(theirs)} bytes/node (${formatRatio(mine / theirs)})`,
      };
    },
  },
  {
    id: 'cli.read',
    statement: '`xenwire read`: wall time per call ≤ 1.30× `node -e 0`',
    pairs: ['cli.read'],
    judge: ([p]) => {
      // Rates are calls per second: the time per call is their inverse.
      const slower = 1 / p!.ratio.median;
      return {
        pass: slower <= 1.3,
        figures: `${formatSeconds(1 / p!.candidate.medianRate)} vs ${formatSeconds(1 / p!.baseline.medianRate)} per call (${formatRatio(slower)}); ${cpuFigures(p!, 'client')}`,
      };
    },
  },
];

/**
 * Judges `goals` in `condition` from its outcomes; goals whose pairs were not chosen to run (by
 * the filters) are left out. `measuredIn` names, for outcomes carried over from another
 * condition (pairs that run once, whatever the condition), where they were measured.
 */
export function evaluateGoals(
  condition: Condition,
  outcomes: readonly PairOutcome[],
  measuredIn: ReadonlyMap<string, string> = new Map(),
  goals: readonly Goal[] = GOALS,
): GoalVerdict[] {
  const verdicts: GoalVerdict[] = [];
  for (const goal of goals) {
    if (goal.appliesIn && !goal.appliesIn(condition)) continue;
    if (!goal.pairs.every((id) => outcomes.some((o) => o.id === id))) continue;
    const base = { goal: goal.id, statement: goal.statement, condition: condition.id };
    const pairs: MeasuredPair[] = [];
    const missing: string[] = [];
    for (const id of goal.pairs) {
      const outcome = outcomes.find((o) => o.id === id)!;
      if (outcome.status === 'measured') pairs.push(outcome);
      else missing.push(`${id} ${outcome.status}: ${outcome.reason}`);
    }
    if (missing.length > 0) {
      verdicts.push({ ...base, verdict: 'NOT MEASURED', figures: missing.join('; ') });
      continue;
    }
    const { pass, figures } = goal.judge(pairs);
    const bound = goal.bound && judgeBound(goal.bound, outcomes);
    const elsewhere = goal.pairs
      .filter((id) => measuredIn.has(id))
      .map((id) => ` (${id} measured in ${measuredIn.get(id)}: it does not depend on scheduling)`)
      .join('');
    verdicts.push({
      ...base,
      verdict: pass === undefined ? 'NOT MEASURED' : pass ? 'PASS' : 'FAIL',
      figures: figures + elsewhere,
      ...bound,
    });
  }
  return verdicts;
}

/** The bound's figures in this condition, and whether it meets the goal; nothing if not measured. */
function judgeBound(
  bound: GoalBound,
  outcomes: readonly PairOutcome[],
): Pick<GoalVerdict, 'bound' | 'reachable'> | undefined {
  const outcome = outcomes.find((o) => o.id === bound.pair);
  if (outcome?.status !== 'measured') return undefined;
  const { pass, figures } = bound.judge(outcome);
  return { bound: figures, ...(pass === undefined ? {} : { reachable: pass }) };
}

function rateFigures(p: MeasuredPair): string {
  return `${p.id}: rate ${formatRatio(p.ratio.median)} (${formatRate(p.candidate.medianRate)} vs ${formatRate(p.baseline.medianRate)} ${p.unit})`;
}

function cpuFigures(p: MeasuredPair, role: CpuRole): string {
  const ratio = p.cpuRatio[role];
  const mine = p.candidate.cpuPerOp[role];
  const theirs = p.baseline.cpuPerOp[role];
  if (!ratio || mine === undefined || theirs === undefined) return `no ${role} CPU figures`;
  return `${role} CPU/op ${formatRatio(ratio.median)} (${formatSeconds(mine)} vs ${formatSeconds(theirs)})`;
}
