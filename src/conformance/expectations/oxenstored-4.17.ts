import type { Expectations } from '../expectations.ts';

const EMPTY_PAYLOAD =
  'oxenstored does not handle a message with an empty payload until more bytes arrive on the ' +
  'connection (then it answers it): the request goes unanswered meanwhile.';
const SPECIAL_NODES =
  'oxenstored keeps @introduceDomain and @releaseDomain as ordinary nodes and accepts any @ ' +
  'path as one, where C 4.17 refuses @ paths outside WATCH and SET_PERMS.';
const SORTED = 'oxenstored lists children sorted by name (the protocol promises no order).';
const HIDES_NOTHING =
  'oxenstored answers ENOENT for a missing node whatever the guest may read; C hides whether ' +
  'the node exists behind EACCES unless the nearest existing ancestor is readable.';
const TX_EIO = 'oxenstored answers EIO, not ENOENT, for a tx_id that names no open transaction.';
const COALESCE =
  'oxenstored replays a transaction at commit when the nodes it read are unchanged: nodes it ' +
  'only wrote or created never conflict (C compares every node the transaction touched).';
const UNKNOWN_DOMAIN = 'oxenstored answers EINVAL, not ENOENT, for a domain it does not know.';
const EQUOTA =
  'oxenstored answers EQUOTA, an error name missing from the xs_wire.h table every client ' +
  'decodes, where C answers ENOSPC (nodes, transactions) or E2BIG (watches).';
const NO_DIRECTORY_PART = 'oxenstored 4.17 does not implement DIRECTORY_PART: ENOSYS.';
const VALUE_LIMIT =
  'oxenstored refuses values over 2048 bytes (its quota-maxsize) from every connection, dom0 ' +
  'included, with E2BIG; C limits only guests, by node record size.';
const NO_RECORD_LIMIT =
  'oxenstored limits the value alone (2048 bytes), not the node record with its permissions and ' +
  'children, so this node is accepted.';
const DEBUG =
  "oxenstored's CONTROL (its debug command) knows other subcommands and answers OK to what it " +
  'does not know.';
const ATOI = 'oxenstored parses domids with OCaml int_of_string, not C atoi.';

/** Xen 4.17's OCaml oxenstored: what it does differently, as observed. */
export const OXENSTORED_4_17: Expectations = {
  implementation: 'oxenstored-4.17',
  description:
    "Xen 4.17's OCaml oxenstored (Debian bookworm xen-utils-4.17), run under xenwire's " +
    'LD_PRELOAD shim (harness/start-oxenstored.sh) with guests on rings (--guest-ring)',
  knownFailures: {
    'wire.payload-max-accepted': {
      reason: VALUE_LIMIT,
      reproduction: 'WRITE "/a\\0" + 2049 bytes -> ERROR "E2BIG"',
    },
    'wire.oversize-header-drops-connection': {
      reason:
        'oxenstored keeps a connection whose header announces more than 4096 bytes: it reads ' +
        'that many payload bytes and then answers EINVAL.',
      reproduction: 'header WRITE len=4097, then 4097 bytes -> ERROR "EINVAL", connection open',
    },
    'wire.huge-header-drops-connection': {
      reason: 'oxenstored keeps the connection and waits for the 4 GiB payload announced.',
      reproduction: 'header WRITE len=0xffffffff -> no reply, connection open',
    },
    'wire.reply-over-max-e2big': {
      reason:
        'oxenstored sends a reply longer than 4096 bytes (here 5050) instead of E2BIG; clients ' +
        'that enforce the limit drop the connection.',
      reproduction:
        'DIRECTORY of a node with 50 children of 100-character names -> 5066-byte frame',
    },
    'wire.write-empty-payload-einval': {
      reason: EMPTY_PAYLOAD,
      reproduction: 'WRITE "" -> no reply',
    },
    'wire.transaction-start-payload-ignored': {
      reason: EMPTY_PAYLOAD,
      reproduction: 'TRANSACTION_START "" -> no reply',
    },
    'wire.read-empty-einval': { reason: EMPTY_PAYLOAD, reproduction: 'READ "" -> no reply' },
    'wire.directory-empty-einval': {
      reason: EMPTY_PAYLOAD,
      reproduction: 'DIRECTORY "" -> no reply',
    },
    'wire.get-perms-empty-einval': {
      reason: EMPTY_PAYLOAD,
      reproduction: 'GET_PERMS "" -> no reply',
    },
    'wire.mkdir-empty-einval': { reason: EMPTY_PAYLOAD, reproduction: 'MKDIR "" -> no reply' },
    'wire.rm-empty-einval': { reason: EMPTY_PAYLOAD, reproduction: 'RM "" -> no reply' },
    'paths.special-read-einval': {
      reason: SPECIAL_NODES,
      reproduction: 'READ "@releaseDomain\\0" -> READ ""',
    },
    'paths.special-write-einval': {
      reason: SPECIAL_NODES,
      reproduction: 'WRITE "@xenwireConformance\\0x" -> OK',
    },
    'paths.special-mkdir-einval': {
      reason: SPECIAL_NODES,
      reproduction: 'MKDIR "@introduceDomain\\0" -> OK',
    },
    'paths.special-directory-einval': {
      reason: SPECIAL_NODES,
      reproduction: 'DIRECTORY "@releaseDomain\\0" -> DIRECTORY ""',
    },
    'paths.special-rm-einval': {
      reason: `${SPECIAL_NODES} RM removes the @releaseDomain node itself.`,
      reproduction: 'RM "@releaseDomain\\0" -> OK; SET_PERMS on it is then ENOENT',
    },
    'paths.special-get-perms-einval': {
      reason: SPECIAL_NODES,
      reproduction: 'GET_PERMS "@introduceDomain\\0" -> "n0\\0"',
    },
    'tree.directory-creation-order': {
      reason: SORTED,
      reproduction: 'WRITE zeta, alpha, mid, beta; DIRECTORY -> alpha beta mid zeta',
    },
    'tree.directory-removal-in-place': {
      reason: SORTED,
      reproduction: 'WRITE c, a, b; RM a; WRITE a; DIRECTORY -> a b c',
    },
    'tree.rm-root-einval': {
      reason: 'oxenstored accepts RM / and removes the whole tree.',
      reproduction: 'RM "/\\0" -> OK; READ "/tool\\0" -> ENOENT',
    },
    'permissions.unknown-owner-enoent': {
      reason: 'oxenstored does not check that the owner domain exists.',
      reproduction: 'SET_PERMS "/n\\0n31000\\0" -> OK',
    },
    'permissions.entries-survive-release': {
      reason: "oxenstored drops a released domain's entries from permission lists.",
      reproduction: 'SET_PERMS /n n0 r1 b6; RELEASE 1; GET_PERMS /n -> n0 b6',
    },
    'permissions.guest-missing-hidden-parent-eacces': {
      reason: HIDES_NOTHING,
      reproduction: 'guest: READ /n/missing under /n (n0) -> ENOENT',
    },
    'permissions.guest-missing-outside-eacces': {
      reason: HIDES_NOTHING,
      reproduction: 'guest: READ /xenwire-conformance-missing -> ENOENT',
    },
    'permissions.guest-becomes-owner': {
      reason:
        "oxenstored gives a node a guest creates the parent's permissions unchanged; C makes the " +
        'creator the owner.',
      reproduction: 'parent r0 b1 w5; guest 1 creates a child -> r0 b1 w5 (C: r1 b1 w5)',
    },
    'permissions.guest-rm-missing-readonly-parent-eacces': {
      reason: 'oxenstored answers OK to RM of a missing node without checking write access.',
      reproduction: 'guest: RM /n/missing under /n (n0 r<guest>) -> OK',
    },
    'permissions.guest-cannot-give-away': {
      reason: "oxenstored refuses a guest's change of owner with EACCES, not EPERM.",
      reproduction: 'guest owning /n: SET_PERMS /n n0 -> EACCES',
    },
    'permissions.guest-control-eacces': {
      reason: 'oxenstored does not refuse CONTROL from a guest.',
      reproduction: 'guest: CONTROL "print\\0x\\0" -> OK',
    },
    'watches.own-event-before-reply': {
      reason:
        'oxenstored sends the reply before the watch event the request caused on the same ' +
        'connection.',
      reproduction: 'WATCH /w; WRITE /w/x -> WRITE reply, then WATCH_EVENT',
    },
    'watches.reset-watches-drops-transactions': {
      reason: `oxenstored does end the transactions; ${TX_EIO}`,
      reproduction: 'TRANSACTION_START; RESET_WATCHES; READ in the old tx -> EIO',
    },
    'watches.reset-watches-empty-payload': {
      reason: EMPTY_PAYLOAD,
      reproduction: 'RESET_WATCHES "" -> no reply',
    },
    'transactions.start-unknown-tx-id-enoent': {
      reason: TX_EIO,
      reproduction: 'TRANSACTION_START with tx_id 0x5151 -> EIO',
    },
    'transactions.unknown-tx-id-enoent': {
      reason: TX_EIO,
      reproduction: 'WRITE with tx_id 0x5151 -> EIO',
    },
    'transactions.ids-per-connection': {
      reason: TX_EIO,
      reproduction: "READ with another connection's tx_id -> EIO",
    },
    'transactions.id-gone-after-commit': {
      reason: TX_EIO,
      reproduction: 'commit, then READ in the same tx -> EIO',
    },
    'transactions.id-gone-after-abort': {
      reason: TX_EIO,
      reproduction: 'abort, then TRANSACTION_END in the same tx -> EIO',
    },
    'transactions.id-gone-after-eagain': {
      reason: COALESCE,
      reproduction: 'tx writes /x; /x written outside; commit -> OK (C: EAGAIN)',
    },
    'transactions.conflict-write-write': {
      reason: COALESCE,
      reproduction: 'tx writes /x; /x written outside; commit -> OK',
    },
    'transactions.conflict-new-sibling': {
      reason: COALESCE,
      reproduction: 'tx creates /p/a; /p/b created outside; commit -> OK',
    },
    'transactions.second-committer-eagain': {
      reason: COALESCE,
      reproduction: 'two transactions write /x without reading it; both commit',
    },
    'transactions.eagain-discards': {
      reason: COALESCE,
      reproduction: 'tx writes /x and /other; /x written outside; commit -> OK',
    },
    'transactions.not-a-snapshot': {
      reason:
        'oxenstored takes a snapshot of the whole store at TRANSACTION_START, as the protocol ' +
        'document describes; C 4.17 copies each node when the transaction first touches it.',
      reproduction: 'TRANSACTION_START; /x created outside; READ /x in the tx -> ENOENT',
    },
    'transactions.commit-order-counts-reads': {
      reason: 'oxenstored fires commit events in the order of the writes replayed, ignoring reads.',
      reproduction: 'tx: READ b, WRITE a, WRITE b; commit -> events a, b (C: b, a)',
    },
    'transactions.commit-one-event-per-node': {
      reason: 'oxenstored fires one event per change replayed at commit, not one per node.',
      reproduction: 'tx: WRITE c, RM a, WRITE b, SET_PERMS c, WRITE b -> events c a b c b',
    },
    'domains.get-domain-path-negative': {
      reason: ATOI,
      reproduction: 'GET_DOMAIN_PATH "-1\\0" -> "/local/domain/1" (C: 4294967295)',
    },
    'domains.get-domain-path-wraps': {
      reason: ATOI,
      reproduction: 'GET_DOMAIN_PATH "4294967297\\0" -> "/local/domain/4294967297" (C: 1)',
    },
    'domains.is-introduced-text-is-dom0': {
      reason: ATOI,
      reproduction: 'IS_DOMAIN_INTRODUCED "abc\\0" -> EINVAL (C: T)',
    },
    'domains.get-domain-path-empty-einval': {
      reason: EMPTY_PAYLOAD,
      reproduction: 'GET_DOMAIN_PATH "" -> no reply',
    },
    'domains.is-introduced-empty-einval': {
      reason: EMPTY_PAYLOAD,
      reproduction: 'IS_DOMAIN_INTRODUCED "" -> no reply',
    },
    'domains.release-empty-einval': {
      reason: EMPTY_PAYLOAD,
      reproduction: 'RELEASE "" -> no reply',
    },
    'domains.release-negative-enoent': {
      reason: UNKNOWN_DOMAIN,
      reproduction: 'RELEASE "-1\\0" -> EINVAL',
    },
    'domains.release-unknown-enoent': {
      reason: UNKNOWN_DOMAIN,
      reproduction: 'RELEASE "31000\\0" -> EINVAL',
    },
    'domains.release-twice-enoent': {
      reason: UNKNOWN_DOMAIN,
      reproduction: 'RELEASE 1; RELEASE 1 -> EINVAL',
    },
    'domains.resume-unknown-enoent': {
      reason: UNKNOWN_DOMAIN,
      reproduction: 'RESUME "31000\\0" -> EINVAL',
    },
    'domains.resume-dom0-einval': {
      reason: 'oxenstored accepts RESUME of dom0.',
      reproduction: 'RESUME "0\\0" -> OK',
    },
    'domains.release-dom0-einval': {
      reason:
        'oxenstored accepts RELEASE of dom0 (answering ENOENT) and then loses the nodes dom0 ' +
        'owns; INTRODUCE fails from then on.',
      reproduction: 'RELEASE "0\\0" -> ENOENT; the scratch nodes are gone',
    },
    'domains.introduce-again-resets-watches': {
      reason: "oxenstored's INTRODUCE of an introduced domain keeps that domain's watches.",
      reproduction: 'guest: WATCH @introduceDomain; INTRODUCE it again; same WATCH -> EEXIST',
    },
    'quotas.nodes-per-domain': {
      reason: EQUOTA,
      reproduction: 'guest creating its 1001st node -> ERROR "EQUOTA"',
    },
    'quotas.nodes-freed-by-rm': {
      reason: EQUOTA,
      reproduction: 'guest creating its 1001st node -> ERROR "EQUOTA"',
    },
    'quotas.nodes-refused-write-creates-nothing': {
      reason: EQUOTA,
      reproduction: 'guest creating its 1001st node -> ERROR "EQUOTA"',
    },
    'quotas.watches-per-domain': {
      reason: `${EQUOTA} Its watch quota is 100, so 101 watches are accepted.`,
      reproduction: 'a guest\'s 102nd WATCH -> ERROR "EQUOTA"',
    },
    'quotas.watches-freed-by-unwatch': {
      reason: `${EQUOTA} Its watch quota is 100.`,
      reproduction: 'a guest\'s 102nd WATCH -> ERROR "EQUOTA"',
    },
    'quotas.transactions-per-domain': {
      reason: EQUOTA,
      reproduction: 'a guest\'s 12th TRANSACTION_START -> ERROR "EQUOTA"',
    },
    'quotas.node-size-limit': {
      reason: NO_RECORD_LIMIT,
      reproduction: 'guest: WRITE of a 2016-byte value -> OK',
    },
    'quotas.node-size-counts-permissions': {
      reason: NO_RECORD_LIMIT,
      reproduction: 'guest: 2008-byte value, then SET_PERMS with two entries -> OK',
    },
    'quotas.node-size-dom0-exempt': {
      reason: VALUE_LIMIT,
      reproduction: 'dom0: WRITE of a 3000-byte value -> E2BIG',
    },
    'quotas.permissions-per-node': {
      reason: 'oxenstored has no quota on permission entries per node.',
      reproduction: 'guest: SET_PERMS with 6 entries -> OK',
    },
    'directory-part.whole-list': { reason: NO_DIRECTORY_PART },
    'directory-part.generation-format': { reason: NO_DIRECTORY_PART },
    'directory-part.no-children': { reason: NO_DIRECTORY_PART },
    'directory-part.offset-past-end': { reason: NO_DIRECTORY_PART },
    'directory-part.offset-mid-name': { reason: NO_DIRECTORY_PART },
    'directory-part.slices-cover-list': { reason: NO_DIRECTORY_PART },
    'directory-part.generation-stable': { reason: NO_DIRECTORY_PART },
    'directory-part.generation-changes-on-new-child': { reason: NO_DIRECTORY_PART },
    'directory-part.generation-changes-on-removed-child': { reason: NO_DIRECTORY_PART },
    'directory-part.generation-changes-on-value': { reason: NO_DIRECTORY_PART },
    'directory-part.missing-enoent': { reason: NO_DIRECTORY_PART },
    'directory-part.one-string-einval': { reason: NO_DIRECTORY_PART },
    'directory-part.text-offset-zero': { reason: NO_DIRECTORY_PART },
    'directory-part.inside-transaction': { reason: NO_DIRECTORY_PART },
    'directory-part.guest-needs-read': { reason: NO_DIRECTORY_PART },
    'directory-part.client-lists-long-directory': {
      reason:
        'oxenstored answers the DIRECTORY with a reply over 4096 bytes instead of E2BIG, which ' +
        'the client rejects (and it has no DIRECTORY_PART to fall back on).',
      reproduction: 'DIRECTORY of 60 children of 100-character names -> a 6076-byte frame',
    },
    'control.help': { reason: DEBUG, reproduction: 'CONTROL "help\\0" -> OK' },
    'control.quota': { reason: DEBUG, reproduction: 'CONTROL "quota\\0" -> OK' },
    'control.quota-soft': { reason: DEBUG, reproduction: 'CONTROL "quota-soft\\0" -> OK' },
    'control.quota-domain': {
      reason: DEBUG,
      reproduction: 'CONTROL "quota\\0000\\0" -> "dom0 quota: 10/1000"',
    },
    'control.log-without-argument-einval': {
      reason: DEBUG,
      reproduction: 'CONTROL "log\\0" -> OK',
    },
    'control.print-without-argument-einval': {
      reason: DEBUG,
      reproduction: 'CONTROL "print\\0" -> OK',
    },
    'control.unknown-command-einval': {
      reason: DEBUG,
      reproduction: 'CONTROL "xenwire-no-such-command\\0" -> OK',
    },
    'control.empty-einval': { reason: EMPTY_PAYLOAD, reproduction: 'CONTROL "" -> no reply' },
  },
};
