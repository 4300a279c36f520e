import type { DumpedNode } from './persistence.ts';

/** The UUID xl gives Domain-0. */
const DOM0_UUID = '00000000-0000-0000-0000-000000000000';

/**
 * What a freshly booted Xen host's store holds for Domain-0 (after `xencommons` and
 * `xen-init-dom0` ran): its name and domid, its `/vm` entry and the tool paths.
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
 * The nodes a toolstack writes for a guest before introducing it: its home, owned by the guest
 * (with read access for dom0, as libxl sets it), name and domid.
 */
export function guestTree(domid: number): DumpedNode[] {
  const home = `/local/domain/${domid}`;
  const perms = [`n${domid}`, 'r0'];
  return [
    { path: home, perms },
    { path: `${home}/name`, value: `guest${domid}`, perms },
    { path: `${home}/domid`, value: String(domid), perms },
    { path: `${home}/device`, perms },
    { path: `${home}/control`, perms },
    { path: `${home}/data`, perms },
  ];
}
