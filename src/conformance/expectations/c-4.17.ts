import type { Expectations } from '../expectations.ts';

const MALFORMED_SINGLE_PATH =
  'C 4.17 bug: the handler takes its path through onearg(), which yields NULL for a payload ' +
  'that is not exactly one nul-terminated string without setting errno, so the request fails ' +
  'with whatever errno an earlier call left behind (ENOENT or ENOMEM in practice), and the ' +
  'daemon aborts when that errno is 0. Later xenstored versions answer EINVAL.';

/** Xen 4.17's C xenstored: fails only where it has a documented bug. */
export const C_4_17: Expectations = {
  implementation: 'c-4.17',
  description:
    "Xen 4.17's C xenstored (Debian bookworm xen-utils-4.17), run under xenwire's LD_PRELOAD " +
    'shim (harness/start-xenstored.sh) with guests on rings (--guest-ring)',
  knownFailures: {
    'permissions.new-domain-ignores-stale-entries-at-once': {
      reason:
        "C 4.17 bug (XSA-322's fix has a gap): an entry counts while its domain is no newer than " +
        "the node, comparing the domain's generation, taken from the global counter when it is " +
        "introduced, with the node's. When nothing was written since the node, the two are " +
        "equal and a new domain reusing the domid inherits the dead one's access; any write in " +
        'between closes the gap (permissions.new-domain-ignores-stale-entries passes).',
      reproduction:
        'INTRODUCE 5; SET_PERMS /n n0 r5; domain 5 dies (@releaseDomain); INTRODUCE 5 again; ' +
        'READ /n as domain 5 -> the value (EACCES once any WRITE came between)',
    },
    'wire.read-no-nul-einval': {
      reason: MALFORMED_SINGLE_PATH,
      reproduction: 'READ with payload "/a" (no nul) -> ERROR "ENOENT" (a stale errno)',
    },
    'wire.read-two-strings-einval': {
      reason: MALFORMED_SINGLE_PATH,
      reproduction: 'READ with payload "/a\\0x\\0" (two strings) -> ERROR "ENOENT" (a stale errno)',
    },
    'wire.read-empty-einval': {
      reason: MALFORMED_SINGLE_PATH,
      reproduction: 'READ with payload "" (empty) -> ERROR "ENOENT" (a stale errno)',
    },
    'wire.directory-no-nul-einval': {
      reason: MALFORMED_SINGLE_PATH,
      reproduction: 'DIRECTORY with payload "/a" (no nul) -> ERROR "ENOENT" (a stale errno)',
    },
    'wire.directory-two-strings-einval': {
      reason: MALFORMED_SINGLE_PATH,
      reproduction:
        'DIRECTORY with payload "/a\\0x\\0" (two strings) -> ERROR "ENOENT" (a stale errno)',
    },
    'wire.directory-empty-einval': {
      reason: MALFORMED_SINGLE_PATH,
      reproduction: 'DIRECTORY with payload "" (empty) -> ERROR "ENOENT" (a stale errno)',
    },
    'wire.get-perms-no-nul-einval': {
      reason: MALFORMED_SINGLE_PATH,
      reproduction: 'GET_PERMS with payload "/a" (no nul) -> ERROR "ENOENT" (a stale errno)',
    },
    'wire.get-perms-two-strings-einval': {
      reason: MALFORMED_SINGLE_PATH,
      reproduction:
        'GET_PERMS with payload "/a\\0x\\0" (two strings) -> ERROR "ENOENT" (a stale errno)',
    },
    'wire.get-perms-empty-einval': {
      reason: MALFORMED_SINGLE_PATH,
      reproduction: 'GET_PERMS with payload "" (empty) -> ERROR "ENOENT" (a stale errno)',
    },
    'wire.mkdir-no-nul-einval': {
      reason: MALFORMED_SINGLE_PATH,
      reproduction: 'MKDIR with payload "/a" (no nul) -> ERROR "ENOMEM" (a stale errno)',
    },
    'wire.mkdir-two-strings-einval': {
      reason: MALFORMED_SINGLE_PATH,
      reproduction:
        'MKDIR with payload "/a\\0x\\0" (two strings) -> ERROR "ENOMEM" (a stale errno)',
    },
    'wire.mkdir-empty-einval': {
      reason: MALFORMED_SINGLE_PATH,
      reproduction: 'MKDIR with payload "" (empty) -> ERROR "ENOMEM" (a stale errno)',
    },
    'wire.rm-no-nul-einval': {
      reason: MALFORMED_SINGLE_PATH,
      reproduction: 'RM with payload "/a" (no nul) -> ERROR "ENOMEM" (a stale errno)',
    },
    'wire.rm-two-strings-einval': {
      reason: MALFORMED_SINGLE_PATH,
      reproduction: 'RM with payload "/a\\0x\\0" (two strings) -> ERROR "ENOMEM" (a stale errno)',
    },
    'wire.rm-empty-einval': {
      reason: MALFORMED_SINGLE_PATH,
      reproduction: 'RM with payload "" (empty) -> ERROR "ENOMEM" (a stale errno)',
    },
  },
};
