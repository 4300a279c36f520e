/** Virtual IRQ numbers from xen.h (`VIRQ_*`), for {@link EventChannel.bindVirq}. */
export const Virq = {
  /** The vcpu's periodic or one-shot timer fired (per vcpu). */
  TIMER: 0,
  /** A debug request from the hypervisor console (`'q'` key; the handler dumps state). */
  DEBUG: 1,
  /** Bytes arrived on the hypervisor's emergency console (dom0's `xencons`). */
  CONSOLE: 2,
  /** A domain died or shut down: sent to the hardware domain (dom0) by the hypervisor. */
  DOM_EXC: 3,
  /** The trace buffers (`xentrace`) have records to collect. */
  TBUF: 4,
  /** A domain being debugged stopped (gdbsx). */
  DEBUGGER: 6,
  /** Profiling samples are ready (xenoprof; per vcpu). */
  XENOPROF: 7,
  /** The hypervisor's console ring has new output (`xl dmesg` readers). */
  CON_RING: 8,
  /** A physical CPU went on- or offline. */
  PCPU_STATE: 9,
  /** A memory access event for a monitoring domain (`mem_event` / vm_event). */
  MEM_EVENT: 10,
  /** Argo inter-domain messages arrived for this domain. */
  ARGO: 11,
  /** The hypervisor is short of heap memory. */
  ENOMEM: 12,
  /** Performance-counter samples are ready (PMU; per vcpu). */
  XENPMU: 13,
} as const;
