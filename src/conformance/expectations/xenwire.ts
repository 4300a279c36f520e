import type { Expectations } from '../expectations.ts';

/** xenwire's in-memory xenstored in 4.17 mode. */
export const XENWIRE: Expectations = {
  implementation: 'xenwire',
  description:
    "xenwire's in-memory xenstored with 4.17 semantics (`xenwire serve --xen-version 4.17`), " +
    'guests on its per-domain sockets (--guest-socket-template)',
  knownFailures: {
    'watches.token-binary': {
      reason:
        'Bug: the server decodes watch tokens as text and re-encodes them as UTF-8, so a token ' +
        'holding bytes that are not UTF-8 comes back changed in the event. Being fixed with the ' +
        'other token and numeric-parsing bugs of issue #23.',
      reproduction:
        'WATCH "/a\\0tok\\xe9\\0" -> WATCH_EVENT "/a\\0tok\\xc3\\xa9\\0" (C: "/a\\0tok\\xe9\\0")',
    },
  },
};
