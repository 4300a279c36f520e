import { describe, expect, it } from 'vitest';
import { XenstoreFixture } from '../../bench/lib/xenstore-fixture.ts';

describe('XenstoreFixture', () => {
  it('starts and stops just the in-memory daemons it was asked for', async () => {
    const fixture = new XenstoreFixture({ mock: true });
    const hooks = fixture.hooks;
    await hooks.setup({ quick: true });
    expect(await hooks.unavailable()).toBeUndefined();
    expect(fixture.mock.socketPath).toMatch(/socket$/);
    expect(() => fixture.watchedMock).toThrow(/not started/);
    await hooks.teardown();
    expect(() => fixture.mock).toThrow(/not started/);
  });

  it('hands out a fresh base node per run', () => {
    const fixture = new XenstoreFixture({});
    expect(fixture.nextBase('c')).not.toBe(fixture.nextBase('c'));
  });
});
