import type { Expectations } from '../expectations.ts';

/** xenwire's in-memory xenstored in 4.17 mode. */
export const XENWIRE: Expectations = {
  implementation: 'xenwire',
  description:
    "xenwire's in-memory xenstored with 4.17 semantics (`xenwire serve --xen-version 4.17`), " +
    'guests on its per-domain sockets (--guest-socket-template)',
  knownFailures: {},
};
