import { isDomid } from '../device/domid.ts';
import { EvtchnError } from './errors.ts';

/** `DOMID_SELF`: the calling domain, accepted where Xen accepts it. */
export const DOMID_SELF = 0x7ff0;
/** Number of virtual IRQs (`NR_VIRQS` in xen.h). */
export const NR_VIRQS = 24;

/** Rejects anything that is not a domain id a guest may name (0 … 0x7fef). */
export function checkDomid(domid: number, operation: string): number {
  if (!isDomid(domid)) {
    throw new EvtchnError('EINVAL', `${operation}: bad domain id ${String(domid)}`);
  }
  return domid;
}

/** Rejects anything that cannot be an event-channel port number (a u32). */
export function checkPort(port: number, operation: string): number {
  if (!Number.isInteger(port) || port < 0 || port > 0xffffffff) {
    throw new EvtchnError('EINVAL', `${operation}: bad port ${String(port)}`);
  }
  return port;
}

/** Rejects virtual IRQ numbers outside 0 … NR_VIRQS-1. */
export function checkVirq(virq: number, operation: string): number {
  if (!Number.isInteger(virq) || virq < 0 || virq >= NR_VIRQS) {
    throw new EvtchnError('EINVAL', `${operation}: bad virq ${String(virq)}`);
  }
  return virq;
}
