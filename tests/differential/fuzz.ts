/**
 * Long differential runs: npm run fuzz:diff -- --runs N [--seed S] [--max-steps M] [--guest]
 * (--guest adds a connection of an introduced guest domain: a ring for the C daemon).
 * Prints the shrunk failing script as a replayable test case and exits 1 on a divergence.
 */
import { parseArgs } from 'node:util';
import { xenInstall } from '../support/real-xenstored.ts';
import { checkDifferential } from './property.ts';
import { mockTarget, realTarget } from './targets.ts';

const { values } = parseArgs({
  options: {
    runs: { type: 'string', default: '10000' },
    seed: { type: 'string' },
    'max-steps': { type: 'string', default: '30' },
    guest: { type: 'boolean', default: false },
  },
});

if (!xenInstall) {
  console.error('fuzz:diff needs the real xenstored (harness/fetch-packages.sh)');
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
  const report = await checkDifferential(real, mock, {
    runs,
    seed,
    maxSteps: Number(values['max-steps']),
    guest: values.guest,
  });
  console.log(report ?? `${runs} scripts: no divergence`);
  process.exitCode = report === undefined ? 0 : 1;
} finally {
  await real.stop();
  await mock.stop();
}
