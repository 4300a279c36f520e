// A reference that crashes or hangs is a finding of its own, never a divergence, and nothing runs
// against it once it is dead. Shown on a real crash: C xenstored 4.17.5 (Debian bookworm's build,
// package set `xen-4.17.5` in harness/pins) aborts on RESET_WATCHES sent inside a transaction;
// the pinned 4.17.7 does not.
import { readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  checkDifferential,
  DivergenceError,
  expectSameBehaviour,
  ReferenceCrashError,
} from '../../src/conformance/fuzz/differential.ts';
import type { Script, Step } from '../../src/conformance/fuzz/script.ts';
import { findXenInstall, xenInstall } from '../support/real-xenstored.ts';
import {
  type DifferentialTarget,
  DOM0_CONNECTIONS,
  mockTarget,
  type ReferenceTarget,
  realTarget,
} from './targets.ts';

/**
 * The shortest script that crashes C xenstored 4.17.5: RESET_WATCHES carrying the id of the
 * connection's open transaction. (Found by `npm run fuzz:diff -- --runs 80 --seed 20261126
 * --xen-set xen-4.17.5`, whose script 77 did it after some writes and permission changes.)
 */
const RESET_WATCHES_IN_TRANSACTION: Script = [
  { conn: 0, tx: 'none', request: { op: 'TRANSACTION_START' } },
  { conn: 0, tx: { started: 0 }, request: { op: 'RESET_WATCHES' } },
];

/** Steps that do not matter to the crash, for the shrinker to remove. */
const PADDING: Step[] = [
  { conn: 1, tx: 'none', request: { op: 'WRITE', path: '/d/a', value: 'v' } },
  { conn: 0, tx: { started: 0 }, request: { op: 'WRITE', path: '/d/b', value: 'w' } },
  {
    conn: 0,
    tx: { started: 0 },
    request: { op: 'SET_PERMS', path: '/d/b', perms: [{ access: 'r', domid: 1 }] },
  },
  { conn: 2, tx: 'none', request: { op: 'WATCH', path: '/d', token: 't' } },
];

/** The crash with any of the padding steps around it (before, inside the transaction, after). */
const paddedCrash: fc.Arbitrary<Script> = fc
  .array(fc.boolean(), { minLength: PADDING.length, maxLength: PADDING.length })
  .map((keep) => {
    const [outside, inTxWrite, inTxPerms, after] = PADDING.map((step, i) =>
      keep[i] ? [step] : [],
    );
    const [start, reset] = RESET_WATCHES_IN_TRANSACTION;
    return [...outside!, start!, ...inTxWrite!, ...inTxPerms!, reset!, ...after!];
  });

/** Harmless on every build: RESET_WATCHES outside the open transaction. */
const RESET_WATCHES_BESIDE_TRANSACTION: Script = [
  { conn: 0, tx: 'none', request: { op: 'TRANSACTION_START' } },
  { conn: 0, tx: 'none', request: { op: 'RESET_WATCHES' } },
];

// Under CI=true both builds must be had: findXenInstall throws instead of skipping.
const install4175 = findXenInstall('xen-4.17.5');

describe.skipIf(!install4175 || !xenInstall)('a crash of the reference daemon', () => {
  let old: ReferenceTarget;
  let pinned: ReferenceTarget;
  let mock: DifferentialTarget;

  beforeAll(async () => {
    old = await realTarget(install4175!);
    pinned = await realTarget(xenInstall!);
    mock = await mockTarget();
  });
  afterAll(async () => {
    await old?.stop();
    await pinned?.stop();
    await mock?.stop();
  });

  it('is reported as a crash of 4.17.5, with its log, and the daemon is restarted', async () => {
    const crash = await expectSameBehaviour(old, mock, RESET_WATCHES_IN_TRANSACTION).then(
      () => undefined,
      (error: unknown) => error,
    );
    expect(crash).toBeInstanceOf(ReferenceCrashError);
    expect(crash).not.toBeInstanceOf(DivergenceError);
    const { message, reason, script } = crash as ReferenceCrashError;
    expect(message).toMatch(/^the C xenstored \(xen-4\.17\.5\) crashed on this script: /);
    expect(reason).toContain("Assertion `conn->transaction == NULL' failed");
    expect(script).toEqual(RESET_WATCHES_IN_TRANSACTION);
    // The next script runs on a fresh daemon, not against the dead one.
    await expectSameBehaviour(old, mock, RESET_WATCHES_BESIDE_TRANSACTION);
  });

  it('is classified apart from divergences and shrunk on a fresh daemon per try', async () => {
    let restarts = 0;
    const counted: ReferenceTarget = Object.create(old);
    counted.restart = async () => {
      restarts++;
      await old.restart();
    };
    // Seed 7 draws every padding step, so the shrinker has all four to remove.
    const finding = await checkDifferential(counted, mock, {
      runs: 1,
      seed: 7,
      scripts: paddedCrash,
    });
    console.log(`reference-crash: ${finding?.report}`);
    expect(finding?.kind).toBe('reference-crash');
    expect(finding?.script).toHaveLength(RESET_WATCHES_IN_TRANSACTION.length + PADDING.length);
    expect(finding?.shrunk).toEqual(RESET_WATCHES_IN_TRANSACTION);
    expect(finding?.report).toContain('The C xenstored (xen-4.17.5) crashed on script 1');
    expect(finding?.report).toContain(
      `Script as generated (6 steps): ${JSON.stringify(finding?.script)}`,
    );
    // Every try ran on a daemon started for it: one restart after the search's crash, then one
    // per try (after its crash, or before the next try when it did not crash).
    const tries = Number(
      /Shrunk to 2 steps in (\d+) tries, each on a freshly started daemon/.exec(
        finding?.report ?? '',
      )?.[1],
    );
    expect(tries).toBeGreaterThan(PADDING.length);
    expect(restarts).toBeGreaterThanOrEqual(tries);
  });

  it('does not happen on the pinned build (4.17.7): the same scripts run clean', async () => {
    await expectSameBehaviour(pinned, mock, RESET_WATCHES_IN_TRANSACTION);
    const finding = await checkDifferential(pinned, mock, {
      runs: 8,
      scripts: paddedCrash,
    });
    expect(finding?.report).toBeUndefined();
  });

  it('counts a daemon that stops answering as crashed once the script deadline passes', async () => {
    const pid = Number(readFileSync(join(dirname(pinned.socketPath), 'xenstored.pid'), 'utf8'));
    process.kill(pid, 'SIGSTOP');
    const hang = expectSameBehaviour(
      pinned,
      mock,
      RESET_WATCHES_BESIDE_TRANSACTION,
      DOM0_CONNECTIONS,
      1000,
    );
    await expect(hang).rejects.toThrow(ReferenceCrashError);
    await expect(hang).rejects.toThrow(/did not finish the script within 1000 ms/);
    await expectSameBehaviour(pinned, mock, RESET_WATCHES_BESIDE_TRANSACTION);
  });

  it('reports a daemon that exits just after it stops answering as exited, not as hung', async () => {
    // As an aborting daemon does: no answer to the probe, and its exit seen only a moment later.
    const pid = Number(readFileSync(join(dirname(pinned.socketPath), 'xenstored.pid'), 'utf8'));
    process.kill(pid, 'SIGSTOP');
    const dies = setTimeout(() => process.kill(pid, 'SIGKILL'), 300);
    try {
      expect(await pinned.failure(100)).toMatch(new RegExp(`^pid ${pid} exited`));
    } finally {
      clearTimeout(dies);
      await pinned.restart();
    }
    await expectSameBehaviour(pinned, mock, RESET_WATCHES_BESIDE_TRANSACTION);
  });
});
