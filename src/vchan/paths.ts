import { isDomid } from '../device/domid.ts';
import { VchanError } from './errors.ts';

/** Checks a domain id given to a server or client. */
export function checkDomid(value: number, what: string): void {
  if (!isDomid(value)) {
    throw new VchanError('EINVAL', `${what} ${String(value)} is not a domain id`);
  }
}

/**
 * Where libxenvchan's users (Qubes' qrexec, `vchan-socket-proxy` set-ups) conventionally put a
 * vchan: `/local/domain/<server>/data/vchan/<client>/<port>`, in the server's own `data`
 * directory, which its domain may write. libxenvchan itself takes any path.
 * @throws VchanError `EINVAL` for a bad domid or a port that is not a path element
 */
export function vchanPath(serverDomid: number, clientDomid: number, port: number | string): string {
  checkDomid(serverDomid, 'server domain');
  checkDomid(clientDomid, 'client domain');
  if (!/^[A-Za-z0-9_-]+$/.test(String(port))) {
    throw new VchanError('EINVAL', `vchan port ${JSON.stringify(port)} is not a path element`);
  }
  return `/local/domain/${serverDomid}/data/vchan/${clientDomid}/${port}`;
}
