import { describe, expect, it } from 'vitest';

// Each test file gets fresh modules, so pointing the loader at nothing here affects only this file.
process.env.XENWIRE_NATIVE_ADDON = '/nonexistent/xenwire.node';
const device = await import('../../src/device/index.ts');
const evtchn = await import('../../src/evtchn/index.ts');

describe('without the native addon', () => {
  it('reports ENOSYS only when a native feature is used', () => {
    expect(device.isNativeAvailable()).toBe(false);
    expect(() => device.loadNative()).toThrow(expect.objectContaining({ code: 'ENOSYS' }));
    expect(() => device.mapFile('/etc/hostname', { length: 1 })).toThrow(
      expect.objectContaining({ code: 'ENOSYS' }),
    );
    expect(() => evtchn.DeviceEventChannel.open()).toThrow(
      expect.objectContaining({ code: 'ENOSYS' }),
    );
    expect(() =>
      evtchn.SocketEventChannel.open({ localPath: '/tmp/x', peerPath: '/tmp/y' }),
    ).toThrow(expect.objectContaining({ code: 'ENOSYS' }));
  });

  it('leaves the pure TypeScript parts working', () => {
    const hv = evtchn.SimulatedHypervisor.create();
    const handle = hv.openEventChannel(hv.createDomain());
    expect(handle.bindUnboundPort(0)).toBe(1);
  });
});
