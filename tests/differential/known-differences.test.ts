import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { KNOWN_DIFFERENCES } from '../../src/conformance/fuzz/known-differences.ts';
import { CONNECTIONS } from '../../src/conformance/fuzz/script.ts';
import { type XenInstall, xenInstall } from '../support/real-xenstored.ts';
import { type DifferentialTarget, mockTarget, realTarget, runScript } from './targets.ts';

/**
 * Every known difference still holds: C xenstored 4.17 still has the bug (so that the day it is
 * fixed, this fails and the entry goes), the in-memory server answers what C should, and the
 * generator leaves out a step of the reproduction.
 */
describe.skipIf(!xenInstall)('known differences with C xenstored 4.17', () => {
  let mock: DifferentialTarget;
  beforeAll(async () => {
    mock = await mockTarget();
  });
  afterAll(async () => {
    await mock?.stop();
  });

  const reproduced = KNOWN_DIFFERENCES.flatMap(({ title, reproduction, matches }) =>
    reproduction ? [[title, reproduction, matches] as const] : [],
  );
  it.each(reproduced)(
    '%s',
    async (_title, reproduction, matches) => {
      const { script, connections, c, mock: expected } = reproduction;
      // Some of these bugs leave the daemon unusable: each gets its own.
      const real = await realTarget(xenInstall as XenInstall);
      try {
        expect((await runScript(real, script, connections)).at(-1)).toEqual(c);
      } finally {
        await real.stop();
      }
      expect((await runScript(mock, script, connections)).at(-1)).toEqual(expected);
      const left = script.filter((step, i) =>
        matches(step, { byGuest: step.conn >= CONNECTIONS, earlier: script.slice(0, i) }),
      );
      expect(left).not.toEqual([]);
    },
    60_000,
  );
});
