import { describe, expect, it } from 'vitest';
import { XenstoreFixture } from '../../bench/lib/xenstore-fixture.ts';
import { XenstoreClient } from '../../src/xenstore/index.ts';

describe('XenstoreFixture', () => {
  it('starts and stops just the in-memory daemons it was asked for', async () => {
    const fixture = new XenstoreFixture({ mock: true });
    const hooks = fixture.hooks;
    await hooks.setup({ quick: true });
    expect(await hooks.unavailable()).toBeUndefined();
    expect(fixture.mock.socketPath).toMatch(/socket$/);
    expect(fixture.mock.pid).toBeGreaterThan(0);
    expect(() => fixture.secondMock).toThrow(/not started/);
    await hooks.teardown();
    expect(() => fixture.mock).toThrow(/not started/);
  });

  it('sets up afresh each time, as a pair does once per condition', async () => {
    const fixture = new XenstoreFixture({ secondMock: { busyPoll: false } });
    for (let condition = 0; condition < 2; condition++) {
      await fixture.hooks.setup({ quick: true });
      const client = await XenstoreClient.connect({ socketPath: fixture.secondMock.socketPath });
      expect(await client.directory('/')).toContain('tool');
      await client.close();
      await fixture.hooks.teardown();
    }
  });

  it('hands out a fresh base node per run', () => {
    const fixture = new XenstoreFixture({});
    expect(fixture.nextBase('c')).not.toBe(fixture.nextBase('c'));
  });
});
