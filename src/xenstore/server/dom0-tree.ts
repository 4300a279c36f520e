import type { DumpedNode } from './persistence.ts';

/** The UUID xl gives Domain-0. */
const DOM0_UUID = '00000000-0000-0000-0000-000000000000';

/**
 * What a freshly booted Xen host's store holds for Domain-0 (after `xencommons` and
 * `xen-init-dom0` ran): its name and domid, its `/vm` entry and the tool paths.
 * @category Server
 */
export function dom0Tree(): DumpedNode[] {
  return [
    { path: '/local' },
    { path: '/local/domain' },
    { path: '/local/domain/0' },
    { path: '/local/domain/0/name', value: 'Domain-0' },
    { path: '/local/domain/0/domid', value: '0' },
    { path: '/local/domain/0/vm', value: `/vm/${DOM0_UUID}` },
    { path: '/local/domain/0/control/feature-poweroff', value: '1' },
    { path: '/local/domain/0/control/feature-reboot', value: '1' },
    { path: '/local/domain/0/memory/target', value: '4194304' },
    { path: '/local/domain/0/memory/static-max', value: '4194304' },
    { path: `/vm/${DOM0_UUID}/name`, value: 'Domain-0' },
    { path: `/vm/${DOM0_UUID}/uuid`, value: DOM0_UUID },
    { path: '/libxl' },
    { path: '/tool/xenstored/domid', value: '0' },
  ];
}

/**
 * The nodes libxl writes for a guest before introducing it (`libxl__domain_make`): its home and
 * the toolstack's keys are dom0's, readable by the guest; the directories the guest fills in
 * itself (`data`, `control/shutdown`, `drivers`, `feature`, `attr`, `error`) are the guest's own.
 * @category Server
 */
export function guestTree(domid: number): DumpedNode[] {
  const home = `/local/domain/${domid}`;
  const readOnly = ['n0', `r${domid}`];
  const own = [`n${domid}`];
  return [
    { path: home, perms: readOnly },
    { path: `${home}/name`, value: `guest${domid}`, perms: readOnly },
    { path: `${home}/domid`, value: String(domid), perms: readOnly },
    { path: `${home}/device`, perms: readOnly },
    { path: `${home}/control`, perms: readOnly },
    { path: `${home}/control/shutdown`, perms: own },
    { path: `${home}/data`, perms: own },
    { path: `${home}/drivers`, perms: own },
    { path: `${home}/feature`, perms: own },
    { path: `${home}/attr`, perms: own },
    { path: `${home}/error`, perms: own },
  ];
}
