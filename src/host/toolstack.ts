import { GNTTAB_RESERVED_CONSOLE } from '../evtchn/sim/grant-table.ts';
import type { XenstoreClient } from '../xenstore/client.ts';
import type { GuestPorts } from './guest.ts';

/**
 * The toolstack's part once a guest offered its ports: INTRODUCE of its xenstore page (`gfn`),
 * then the guest's home with its `domid` and its console's nodes as libxl writes them for the
 * primary console (the directory the guest's, readable by dom0; the values dom0's, readable by
 * the guest). `ring-ref` holds the reserved console grant reference.
 * @internal The simulated host's step, shared with the bench that runs it against C xenstored.
 */
export async function introduceGuest(
  xs: XenstoreClient,
  domid: number,
  gfn: number | bigint,
  ports: GuestPorts,
): Promise<void> {
  await xs.introduceDomain(domid, gfn, ports.xenstore);
  const home = `/local/domain/${domid}`;
  await xs.mkdir(home);
  await xs.setPermissions(home, [{ access: 'n', domid }]);
  const readOnly = [
    { access: 'n', domid: 0 },
    { access: 'r', domid },
  ] as const;
  await xs.transaction(async (tx) => {
    await tx.write(`${home}/domid`, String(domid));
    await tx.setPermissions(`${home}/domid`, [...readOnly]);
    await tx.mkdir(`${home}/console`);
    await tx.setPermissions(`${home}/console`, [
      { access: 'n', domid },
      { access: 'r', domid: 0 },
    ]);
    await tx.write(`${home}/console/backend-id`, '0');
    for (const [key, value] of [
      ['limit', '1048576'],
      ['type', 'xenconsoled'],
      ['output', 'pty'],
      ['tty', ''],
      ['port', String(ports.console)],
      ['ring-ref', String(GNTTAB_RESERVED_CONSOLE)],
    ]) {
      await tx.write(`${home}/console/${key}`, value as string);
      await tx.setPermissions(`${home}/console/${key}`, [...readOnly]);
    }
  });
}
