import { type Permission, parsePermission } from '../../xenstore/permissions.ts';
import { CONNECTED_GUEST_DOMIDS, guestPort } from './run-script.ts';
import { CONNECTIONS, type ScriptRequest, type Step, type TxRef } from './script.ts';

/**
 * Builders of the steps that the generator, the known differences and the fixed scripts share.
 * The guest connections follow `GUEST_CONNECTIONS`: dom0 on 0 to 2, guests 1 and 2 on 3 and 4.
 */

/** A request on dom0's first connection, outside transactions. */
export const dom0 = (request: ScriptRequest): Step => ({ conn: 0, tx: 'none', request });
/** A request on the connection of guest `domid` (1 or 2). */
export const onGuest = (domid: number, request: ScriptRequest, tx: TxRef = 'none'): Step => ({
  conn: CONNECTIONS + CONNECTED_GUEST_DOMIDS.indexOf(domid as 1 | 2),
  tx,
  request,
});
/** INTRODUCE of guest `domid` with its own event channel. */
export const introduce = (domid: number): Step =>
  dom0({ op: 'INTRODUCE', domid, port: guestPort(domid) });
/** Permission entries in their wire form, e.g. `perms('n0', 'r1')`. */
export const perms = (...texts: string[]): Permission[] => texts.map(parsePermission);
