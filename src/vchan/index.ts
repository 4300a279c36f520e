/**
 * `xenwire/vchan`: libxenvchan-compatible ends — the same xenstore nodes and permissions,
 * shared page, ring sizes, notification bits and liveness rules as Xen 4.17's
 * `tools/libs/vchan` — so a Node end talks to `vchan-socket-proxy`, Qubes' qrexec or any other
 * libxenvchan program, in either role. {@link openVchanServer} publishes a vchan,
 * {@link openVchanClient} connects to one; each end is a {@link VchanDuplex}. See `README.md`
 * here.
 *
 * @packageDocumentation
 */

export { openVchanClient, type VchanClientOptions } from './client.ts';
export { isVchanError, VchanError, type VchanErrorCode } from './errors.ts';
export { vchanPath } from './paths.ts';
export { chooseRingOrders } from './ring-orders.ts';
export { openVchanServer, type VchanServerOptions } from './server.ts';
export { VchanDuplex } from './vchan-duplex.ts';
