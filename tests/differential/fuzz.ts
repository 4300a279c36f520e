/**
 * Long differential runs:
 *   npm run fuzz:diff -- --runs N [--seed S] [--max-steps M] [--guest] [--xen-set SET]
 * (--guest adds a connection of an introduced guest domain: a ring for the C daemon; --xen-set
 * picks the C daemon's package set in harness/pins, `xen` by default, e.g. `xen-4.17.5`).
 * Prints the failing script, as generated and shrunk, with a replayable test case. Exit status:
 * 0 no finding, 1 a divergence of the in-memory server, 3 a crash of the C xenstored, 2 usage.
 */
import { parseArgs } from 'node:util';
import { checkDifferential } from '../../src/conformance/fuzz/differential.ts';
import { findXenInstall, XEN_PACKAGE_SETS, type XenPackageSet } from '../support/real-xenstored.ts';
import { mockTarget, realTarget } from './targets.ts';

const { values } = parseArgs({
  options: {
    runs: { type: 'string', default: '10000' },
    seed: { type: 'string' },
    'max-steps': { type: 'string', default: '30' },
    guest: { type: 'boolean', default: false },
    'xen-set': { type: 'string', default: 'xen' },
  },
});

const set = values['xen-set'];
if (!(XEN_PACKAGE_SETS as readonly string[]).includes(set)) {
  console.error(`fuzz:diff: --xen-set must be one of ${XEN_PACKAGE_SETS.join(', ')}`);
  process.exit(2);
}
const xenInstall = findXenInstall(set as XenPackageSet);
if (!xenInstall) {
  console.error(`fuzz:diff needs the real xenstored (harness/fetch-packages.sh ${set})`);
  process.exit(2);
}
const real = await realTarget(xenInstall);
const mock = await mockTarget().catch(async (error: unknown) => {
  await real.stop();
  throw error;
});
try {
  const runs = Number(values.runs);
  const seed = values.seed === undefined ? undefined : Number(values.seed);
  const finding = await checkDifferential(real, mock, {
    runs,
    seed,
    maxSteps: Number(values['max-steps']),
    guest: values.guest,
  });
  if (finding === undefined) {
    console.log(`${runs} scripts: no divergence, no crash of the ${real.name}`);
  } else {
    console.log(finding.report);
    console.error(
      finding.kind === 'reference-crash'
        ? `fuzz:diff: the ${real.name} CRASHED (a bug of the reference, not of the in-memory server)`
        : `fuzz:diff: the in-memory server DIVERGES from the ${real.name}`,
    );
    process.exitCode = finding.kind === 'reference-crash' ? 3 : 1;
  }
} finally {
  await real.stop();
  await mock.stop();
}
