import { DOMID_FIRST_RESERVED } from '../device/domid.ts';
import { EvtchnError } from './errors.ts';

/**
 * The `IOCTL_EVTCHN_RESTRICT_DOMID` rules of the Linux evtchn driver, for backends that have no
 * kernel to enforce them: once restricted to a domain, a handle may only bind interdomain ports
 * of that domain; virq and unbound binds, and a second restrict, fail with `EACCES`.
 */
export class BindRestriction {
  #domid: number | undefined;

  /** @throws `EACCES` if already restricted, `EINVAL` for dom0 or a reserved id */
  restrict(domid: number): void {
    this.#refuseIfRestricted('restrict');
    if (!Number.isInteger(domid) || domid <= 0 || domid >= DOMID_FIRST_RESERVED) {
      throw new EvtchnError('EINVAL', `restrict: bad domain id ${String(domid)}`);
    }
    this.#domid = domid;
  }

  /** Checks a bind; `remoteDomid` only for interdomain binds. */
  check(operation: string, remoteDomid?: number): void {
    if (remoteDomid === undefined || this.#domid !== remoteDomid)
      this.#refuseIfRestricted(operation);
  }

  #refuseIfRestricted(operation: string): void {
    if (this.#domid !== undefined) {
      throw new EvtchnError(
        'EACCES',
        `${operation}: handle is restricted to domain ${this.#domid}`,
      );
    }
  }
}
