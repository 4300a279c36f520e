/**
 * Real Xen devices. Skipped where /dev/xen/evtchn is absent (CI machines), unless
 * XENWIRE_REQUIRE_DEVICES=1, which turns a missing device into a failure. Inside a Xen guest or
 * dom0: `XENWIRE_REQUIRE_DEVICES=1 npx vitest run tests/evtchn/device.test.ts` (set
 * XENWIRE_DOMID to the domain's id when it is not dom0).
 */
import { existsSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { DeviceError, GrantMapper, GrantSharer } from '../../src/device/index.ts';
import { DeviceEventChannel, EVTCHN_DEVICE } from '../../src/evtchn/index.ts';
import { nativeAddonReady } from '../support/requirements.ts';
import { code } from './support/error-code.ts';

const required = process.env.XENWIRE_REQUIRE_DEVICES === '1';
const present = existsSync(EVTCHN_DEVICE);
if (!present) {
  if (required) throw new Error(`${EVTCHN_DEVICE} missing but XENWIRE_REQUIRE_DEVICES=1`);
  console.warn(`SKIPPING real-device tests: ${EVTCHN_DEVICE} not present (not running on Xen)`);
}
const ready = present && nativeAddonReady();
const self = Number(process.env.XENWIRE_DOMID ?? 0);

describe.skipIf(!ready)('/dev/xen/evtchn', () => {
  it('loops an interdomain channel back to this domain', async () => {
    await using a = DeviceEventChannel.open();
    await using b = DeviceEventChannel.open();
    const pa = a.bindUnboundPort(self);
    const atA = a.pending();
    const atB = b.pending();
    const pb = b.bindInterdomain(self, pa);
    b.notify(pb);
    expect(await atA.next()).toEqual({ value: pa, done: false });
    a.unmask(pa);
    // Xen also marks pb pending at bind time; that event and this notify may arrive as one.
    a.notify(pa);
    expect(await atB.next()).toEqual({ value: pb, done: false });
    b.unmask(pb);
  });

  it('reports kernel errors as typed errors', async () => {
    const a = DeviceEventChannel.open();
    const port = a.bindUnboundPort(self);
    expect(code(() => a.notify(port + 1000))).toBe('ENOTCONN');
    expect(code(() => a.unmask(port + 1000))).toBe('ENOTCONN');
    expect(code(() => a.bindVirq(99))).toBe('EINVAL');
    a.unbind(port);
    expect(code(() => a.unbind(port))).toBe('ENOTCONN');
    a.restrict(self === 0 ? 1 : self);
    expect(code(() => a.bindUnboundPort(self))).toBe('EACCES');
    expect(code(() => a.restrict(2))).toBe('EACCES');
    a.close();
    expect(code(() => a.notify(port))).toBe('EBADF');
  });
});

const grantDevices = ['/dev/xen/gntalloc', '/dev/xen/gntdev'];
describe.skipIf(!ready || !grantDevices.every(existsSync))('/dev/xen/gntalloc + gntdev', () => {
  it('maps a page this domain granted to itself onto the same memory', () => {
    const sharer = GrantSharer.open();
    const mapper = GrantMapper.open();
    try {
      const shared = sharer.share(self, 1);
      expect(shared.refs).toHaveLength(1);
      const mapped = mapper.map(self, shared.refs);
      new Uint8Array(shared.buffer)[10] = 0xab;
      expect(new Uint8Array(mapped.buffer)[10]).toBe(0xab);
      mapped.release();
      expect(code(() => mapped.release(), DeviceError)).toBe('EINVAL');
      shared.release();
    } finally {
      mapper.close();
      sharer.close();
    }
  });
});

// Runs everywhere the addon builds: the wrapper's error path against a descriptor that is not
// the evtchn device, so the kernel answers every ioctl with ENOTTY.
describe.skipIf(!nativeAddonReady())('DeviceEventChannel on a non-evtchn descriptor', () => {
  it('turns the kernel errno into a typed error', () => {
    const fake = DeviceEventChannel.open('/dev/null');
    expect(code(() => fake.bindVirq(0))).toBe('ENOTTY');
    expect(code(() => fake.bindUnboundPort(0))).toBe('ENOTTY');
    expect(code(() => fake.notify(1))).toBe('ENOTTY');
    expect(code(() => fake.unmask(1))).toBe('ENOTCONN');
    fake.close();
    expect(code(() => DeviceEventChannel.open('/nonexistent/evtchn'))).toBe('ENOENT');
    const mapper = GrantMapper.open('/dev/null');
    expect(code(() => mapper.map(0, [8]), DeviceError)).toBe('ENOTTY');
    expect(code(() => mapper.map(0, []), DeviceError)).toBe('EINVAL');
    expect(code(() => mapper.setMaxGrants(4), DeviceError)).toBe('ENOTTY');
    mapper.close();
    const sharer = GrantSharer.open('/dev/null');
    expect(code(() => sharer.share(0, 1), DeviceError)).toBe('ENOTTY');
    expect(code(() => sharer.share(0x8000, 1), DeviceError)).toBe('EINVAL');
    sharer.close();
  });
});
