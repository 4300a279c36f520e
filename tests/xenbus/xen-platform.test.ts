import { existsSync } from 'node:fs';
import { expect, it } from 'vitest';
import { DeviceError } from '../../src/device/index.ts';
import { xenPlatform } from '../../src/xenbus/index.ts';

// The real devices are exercised in the Xen lane (tests/xen/xenbus/); off Xen the platform must
// fail with a typed error, not a crash: ENOENT for the missing device, or ENOSYS without the addon.
it.skipIf(existsSync('/dev/xen/evtchn'))('fails with a typed error off Xen', () => {
  const error = (() => {
    try {
      xenPlatform();
    } catch (caught) {
      return caught;
    }
    return undefined;
  })();
  expect(error).toBeInstanceOf(DeviceError);
  expect(['ENOENT', 'ENOSYS']).toContain((error as DeviceError).code);
});
