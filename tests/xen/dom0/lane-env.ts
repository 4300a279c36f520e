import { existsSync } from 'node:fs';

/** Where the lane's Dom0 tests find the real Xen devices and the real xenstored. */
export const XENBUS_DEVICE = '/dev/xen/xenbus';
export const XENSTORED_SOCKET = '/var/run/xenstored/socket';

/**
 * True inside the Xen lane's Dom0. Elsewhere the suites skip, unless XENWIRE_REQUIRE_DEVICES=1
 * (the lane sets it) turns a missing device into a failure rather than a silent skip.
 */
export const inXenDom0 = process.env.XEN_LANE === 'dom0' && existsSync(XENBUS_DEVICE);
export const devicesRequired = process.env.XENWIRE_REQUIRE_DEVICES === '1';
export const skipDeviceSuites = !inXenDom0 && !devicesRequired;
