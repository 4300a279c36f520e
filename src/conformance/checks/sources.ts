/**
 * How checks cite their sources, all in the public `xen-project/xen` repository (branch
 * `stable-4.17`): the protocol document, the wire header, and functions of the C daemon.
 */

/** A section of `docs/misc/xenstore.txt`. */
export const doc = (section: string): string => `docs/misc/xenstore.txt: ${section}`;

/** A definition in `xen/include/public/io/xs_wire.h`. */
export const wireHeader = (what: string): string => `xen/include/public/io/xs_wire.h: ${what}`;

/** A function of `tools/xenstore/xenstored_core.c`. */
export const core = (fn: string): string => `tools/xenstore/xenstored_core.c: ${fn}()`;

/** A function of `tools/xenstore/xenstored_watch.c`. */
export const watchCode = (fn: string): string => `tools/xenstore/xenstored_watch.c: ${fn}()`;

/** A function of `tools/xenstore/xenstored_transaction.c`. */
export const transactionCode = (fn: string): string =>
  `tools/xenstore/xenstored_transaction.c: ${fn}()`;

/** A function of `tools/xenstore/xenstored_domain.c`. */
export const domainCode = (fn: string): string => `tools/xenstore/xenstored_domain.c: ${fn}()`;

/** A function of `tools/xenstore/xenstored_control.c`. */
export const controlCode = (fn: string): string => `tools/xenstore/xenstored_control.c: ${fn}()`;

/** A Xen security advisory. */
export const xsa = (n: number): string => `XSA-${n}`;
