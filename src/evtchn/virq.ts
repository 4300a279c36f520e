/** Virtual IRQ numbers from xen.h (`VIRQ_*`), for {@link EventChannel.bindVirq}. */
export const Virq = {
  TIMER: 0,
  DEBUG: 1,
  CONSOLE: 2,
  /** A domain died or shut down: sent to the hardware domain (dom0) by the hypervisor. */
  DOM_EXC: 3,
  TBUF: 4,
  DEBUGGER: 6,
  XENOPROF: 7,
  CON_RING: 8,
  PCPU_STATE: 9,
  MEM_EVENT: 10,
  ARGO: 11,
  ENOMEM: 12,
  XENPMU: 13,
} as const;
