import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { checkDifferential, expectSameBehaviour } from '../../src/conformance/fuzz/differential.ts';
import { type XenInstall, xenInstall } from '../support/real-xenstored.ts';
import {
  ATOI_NUMBERS_SCRIPT,
  COMMIT_NODE_BY_NODE_SCRIPT,
  DOM0_QUOTA_SCRIPT,
  DOMAIN_EVENTS_SCRIPT,
  EXTRA_STRINGS_SCRIPT,
  GUEST_QUOTA_SCRIPT,
  GUEST_REFUSED_IN_TRANSACTION_SCRIPT,
  GUEST_TRANSACTION_NODES_RM_SCRIPT,
  LAPSED_ENTRIES_SCRIPT,
  LARGE_DIRECTORY_SCRIPT,
  NON_UTF8_TOKENS_SCRIPT,
  PERMISSION_COUNT_SCRIPT,
  REFUSED_CREATION_SCRIPT,
  TRANSACTION_ANCESTOR_SCRIPT,
  TRANSACTION_NODE_QUOTA_SCRIPT,
  TRANSACTION_NODES_LATER_SCRIPT,
  TRANSACTION_VIEW_SCRIPT,
} from './fixed-scripts.ts';
import {
  type DifferentialTarget,
  GUEST_CONNECTIONS,
  mockTarget,
  type ReferenceTarget,
  realTarget,
} from './targets.ts';

/**
 * Random scripts per run; XENWIRE_DIFF_RUNS scales both kinds. The seed is fixed so that the suite
 * judges a change, not the luck of the draw; XENWIRE_DIFF_SEED picks another, `random` a fresh one
 * each run, and `npm run fuzz:diff` explores further.
 */
const RUNS = Number(process.env.XENWIRE_DIFF_RUNS ?? 1000);
const seedSetting = process.env.XENWIRE_DIFF_SEED ?? '20261126';
const SEED = seedSetting === 'random' ? undefined : Number(seedSetting);

describe.skipIf(!xenInstall)('in-memory xenstored against C xenstored 4.17', () => {
  let real: ReferenceTarget;
  let mock: DifferentialTarget;

  beforeAll(async () => {
    real = await realTarget(xenInstall as XenInstall);
    mock = await mockTarget();
  });
  afterAll(async () => {
    await real?.stop();
    await mock?.stop();
  });

  it(`answers ${RUNS} random dom0 scripts byte for byte alike`, async () => {
    const finding = await checkDifferential(real, mock, { runs: RUNS, seed: SEED, maxSteps: 25 });
    expect(finding?.report).toBeUndefined();
  }, 300_000);

  it(`answers ${RUNS / 2} random scripts with a guest on a ring byte for byte alike`, async () => {
    const finding = await checkDifferential(real, mock, {
      runs: Math.ceil(RUNS / 2),
      seed: SEED,
      maxSteps: 25,
      guest: true,
    });
    expect(finding?.report).toBeUndefined();
  }, 300_000);

  it('shows a transaction the same view of nodes changed outside it', async () => {
    await expectSameBehaviour(real, mock, TRANSACTION_VIEW_SCRIPT);
  });

  it('fails the same commits for changes to ancestors a transaction consulted', async () => {
    await expectSameBehaviour(real, mock, TRANSACTION_ANCESTOR_SCRIPT);
  });

  it('orders domain events and replies alike', async () => {
    await expectSameBehaviour(real, mock, DOMAIN_EVENTS_SCRIPT);
  });

  it('pages a directory too large for one reply alike', async () => {
    await expectSameBehaviour(real, mock, LARGE_DIRECTORY_SCRIPT);
  });

  it('records the same nodes for a guest refused inside a transaction', async () => {
    await expectSameBehaviour(real, mock, GUEST_REFUSED_IN_TRANSACTION_SCRIPT, GUEST_CONNECTIONS);
  });

  it('stops removing a directory at the transaction node limit alike', async () => {
    await expectSameBehaviour(real, mock, GUEST_TRANSACTION_NODES_RM_SCRIPT, GUEST_CONNECTIONS);
  });

  it('enforces the per-domain limits of a guest at the same requests', async () => {
    await expectSameBehaviour(real, mock, GUEST_QUOTA_SCRIPT, GUEST_CONNECTIONS);
  }, 120_000);

  // Divergences the random scripts found, kept as fixed.
  it.each([
    ['sends tokens and @ paths back byte for byte', NON_UTF8_TOKENS_SCRIPT],
    ['reads every number as atoi does, into 32 bits', ATOI_NUMBERS_SCRIPT],
    ['reads the strings of a request as C does', EXTRA_STRINGS_SCRIPT],
    ["counts dom0's watches and transactions as C does", DOM0_QUOTA_SCRIPT],
    ["keeps a released guest's permission entries void for the next domain", LAPSED_ENTRIES_SCRIPT],
    ['judges commit events node by node', COMMIT_NODE_BY_NODE_SCRIPT],
    ['re-checks the node quota after a refused creation', REFUSED_CREATION_SCRIPT],
    ['applies the transaction node quota as it is now', TRANSACTION_NODES_LATER_SCRIPT],
    ['counts a transaction against committed nodes only', TRANSACTION_NODE_QUOTA_SCRIPT],
    ['counts permission entries before parsing them', PERMISSION_COUNT_SCRIPT],
  ])('%s', async (_name, script) => {
    await expectSameBehaviour(real, mock, script, GUEST_CONNECTIONS);
  });
});
