import { joinStrings, MessageType } from '../../xenstore/index.ts';
import { type Check, type CheckSpec, checks } from '../check.ts';
import { type CheckConnection, expectEqual } from '../connection.ts';
import type { CheckContext, Guest } from '../context.ts';
import { awaitGone } from './domain-state.ts';
import { core, doc, domainCode, xsa } from './sources.ts';

const ACCESS = [core('perm_for_conn'), doc('GET_PERMS, SET_PERMS')];
const HIDING = [core('errno_from_parents'), core('get_node')];
const SET = [core('do_set_perms'), doc('SET_PERMS')];

/** A domid no test host runs: SET_PERMS naming it refers to a domain that does not exist. */
const ABSENT_DOMID = 31_000;

interface Guarded {
  admin: CheckConnection;
  guest: Guest;
  /** `${base}/n`, created by dom0 with the permissions asked for. */
  path: string;
}

/** A guest and a node `${base}/n` with the permissions `perms(guest domid)`. */
async function guarded(t: CheckContext, perms: (domid: number) => string[]): Promise<Guarded> {
  const guest = await t.guest({ home: false });
  const admin = await t.admin();
  const path = t.path('n');
  await admin.write(path, 'value');
  await admin.setPerms(path, perms(guest.domid));
  return { admin, guest, path };
}

/** A guest's READ of a node with `perms` succeeds, or fails with `code`. */
function guestRead(
  rule: string,
  perms: (domid: number) => string[],
  code?: string,
  level: CheckSpec['level'] = 'documented',
): CheckSpec {
  return {
    rule,
    level,
    needs: ['guests'],
    sources: ACCESS,
    async run(t) {
      const { guest, path } = await guarded(t, perms);
      if (code) await guest.conn.fails({ op: 'READ', path }, code);
      else expectEqual(await guest.conn.read(path), 'value', 'the value the guest read');
    },
  };
}

/** A guest's WRITE to a node with `perms` succeeds, or fails with `code`. */
function guestWrite(rule: string, perms: (domid: number) => string[], code?: string): CheckSpec {
  return {
    rule,
    level: 'documented',
    needs: ['guests'],
    sources: ACCESS,
    async run(t) {
      const { admin, guest, path } = await guarded(t, perms);
      if (code) {
        await guest.conn.fails({ op: 'WRITE', path, value: Buffer.from('new') }, code);
        expectEqual(await admin.read(path), 'value', 'the value after the refused WRITE');
      } else {
        await guest.conn.write(path, 'new');
        expectEqual(await admin.read(path), 'new', 'the value after the WRITE');
      }
    },
  };
}

/**
 * A guest's `op` on the guarded node (with `suffix` appended to its path) fails with `code`, the
 * node having the permissions `perms(guest domid)`.
 */
function guestRefused(
  rule: string,
  sources: string[],
  perms: (domid: number) => string[],
  [op, suffix]: ['READ' | 'RM' | 'DIRECTORY' | 'GET_PERMS' | 'MKDIR', string],
  code: string,
  level: CheckSpec['level'] = 'c-4.17',
): CheckSpec {
  return {
    rule,
    level,
    needs: ['guests'],
    sources,
    async run(t) {
      const { guest, path } = await guarded(t, perms);
      await guest.conn.fails({ op, path: `${path}${suffix}` }, code);
    },
  };
}

/** A privileged-only request from a guest: EACCES. */
function privilegedOnly(
  op: string,
  payload: (domid: number) => string,
  level: CheckSpec['level'],
): CheckSpec {
  return {
    rule: `${op} from a guest is EACCES (privileged only)`,
    level,
    needs: ['guests'],
    sources: [core('process_message (XS_FLAG_PRIV)'), doc(op)],
    async run(t) {
      const guest = await t.guest({ home: false });
      await guest.conn.rawFails(
        MessageType[op as keyof typeof MessageType],
        payload(guest.domid),
        'EACCES',
      );
    },
  };
}

/**
 * A guest may read a node, dies, and a new domain with its domid is introduced: the old entry
 * must not let the new domain in. `writeBetween` writes an unrelated node before the new domain
 * comes (as a toolstack always does in practice).
 */
function staleEntries(rule: string, writeBetween: boolean): CheckSpec {
  return {
    rule,
    level: 'c-4.17',
    needs: ['guests', 'domain-death'],
    sources: [
      domainCode('domain_adjust_node_perms'),
      domainCode('chk_domain_generation'),
      xsa(322),
    ],
    async run(t) {
      const guest = await t.guest({ home: false });
      const admin = await t.admin();
      await admin.write(t.path('n'), 'old');
      await admin.setPerms(t.path('n'), ['n0', `r${guest.domid}`]);
      expectEqual(await guest.conn.read(t.path('n')), 'old', 'the value the old domain read');
      await t.destroy(guest.domid);
      await awaitGone(admin, guest.domid);
      if (writeBetween) await admin.write(t.path('unrelated'), '');
      const reborn = await t.reintroduce(guest.domid);
      await reborn.fails({ op: 'READ', path: t.path('n') }, 'EACCES');
    },
  };
}

/** SET_PERMS with a malformed entry: EINVAL. */
function badEntry(entry: string): CheckSpec {
  return {
    rule: `SET_PERMS with the entry ${JSON.stringify(entry)} is EINVAL`,
    level: 'c-4.17',
    sources: [...SET, 'tools/libs/store/xs_lib.c: xs_strings_to_perms()'],
    async run(t) {
      const conn = await t.dom0();
      await conn.setPermsFails(t.base, ['n0', entry], 'EINVAL');
      expectEqual(await conn.getPerms(t.base), ['n0'], 'the permissions after the refusal');
    },
  };
}

export const permissionChecks: Check[] = checks('permissions', {
  'dom0-perms-of-new-node': {
    rule: "A node dom0 creates copies its parent's permission list",
    level: 'c-4.17',
    sources: [core('construct_node')],
    async run(t) {
      const conn = await t.dom0();
      await conn.setPerms(t.base, ['r0', 'w7', 'b8']);
      await conn.write(t.path('child'), '');
      expectEqual(
        await conn.getPerms(t.path('child')),
        ['r0', 'w7', 'b8'],
        'the child permissions',
      );
    },
  },
  'created-parents-copy-perms': {
    rule: 'Parents created on the way copy the nearest existing ancestor too',
    level: 'c-4.17',
    sources: [core('construct_node')],
    async run(t) {
      const conn = await t.dom0();
      await conn.setPerms(t.base, ['n0', 'r9']);
      await conn.write(t.path('a', 'b'), '');
      expectEqual(await conn.getPerms(t.path('a')), ['n0', 'r9'], 'the created parent');
    },
  },
  'parent-change-spares-children': {
    rule: "Changing a node's permissions leaves its existing children's alone",
    level: 'c-4.17',
    sources: [core('do_set_perms')],
    async run(t) {
      const conn = await t.dom0();
      await conn.write(t.path('p', 'c'), '');
      await conn.setPerms(t.path('p'), ['r0']);
      expectEqual(await conn.getPerms(t.path('p', 'c')), ['n0'], 'the child permissions');
    },
  },
  'perms-stored-as-given': {
    rule: 'Duplicate and contradicting entries are stored and returned as given',
    level: 'c-4.17',
    sources: SET,
    async run(t) {
      const conn = await t.dom0();
      await conn.setPerms(t.base, ['n0', 'r5', 'w5', 'r5']);
      expectEqual(await conn.getPerms(t.base), ['n0', 'r5', 'w5', 'r5'], 'the permissions');
    },
  },
  'unknown-owner-enoent': {
    rule: 'SET_PERMS naming a non-existent domain as owner is ENOENT',
    level: 'c-4.17',
    sources: [...SET, domainCode('domain_adjust_node_perms')],
    async run(t) {
      const conn = await t.dom0();
      await conn.setPermsFails(t.base, [`n${ABSENT_DOMID}`], 'ENOENT');
    },
  },
  'unknown-entry-kept': {
    rule: 'An entry for a non-existent (non-owner) domain is kept and shown',
    level: 'c-4.17',
    sources: [...SET, domainCode('domain_adjust_node_perms')],
    async run(t) {
      const conn = await t.dom0();
      await conn.setPerms(t.base, ['n0', `r${ABSENT_DOMID}`]);
      expectEqual(await conn.getPerms(t.base), ['n0', `r${ABSENT_DOMID}`], 'the permissions');
    },
  },
  'entries-survive-release': {
    rule: "A released domain's entries on nodes it did not own stay as they were",
    level: 'c-4.17',
    needs: ['guests'],
    sources: [domainCode('domain_adjust_node_perms'), ...SET],
    async run(t) {
      const guest = await t.guest({ home: false });
      const admin = await t.admin();
      await admin.setPerms(t.base, ['n0', `r${guest.domid}`, 'b6']);
      await admin.ok({ op: 'RELEASE', domid: guest.domid });
      expectEqual(await admin.getPerms(t.base), ['n0', `r${guest.domid}`, 'b6'], 'the permissions');
    },
  },
  'new-domain-ignores-stale-entries': staleEntries(
    'A new domain reusing the domid of a dead one gets nothing from entries for the old one',
    true,
  ),
  'new-domain-ignores-stale-entries-at-once': staleEntries(
    'Entries for a dead domain are void for its successor even when nothing was written between',
    false,
  ),
  'entry-renewed-for-new-domain': {
    rule: 'Entries written after a domid was reused apply to the new domain',
    level: 'c-4.17',
    needs: ['guests', 'domain-death'],
    sources: [domainCode('domain_adjust_node_perms'), xsa(322)],
    async run(t) {
      const guest = await t.guest({ home: false });
      const admin = await t.admin();
      await admin.write(t.path('n'), 'v');
      await admin.setPerms(t.path('n'), ['n0', `r${guest.domid}`]);
      await t.destroy(guest.domid);
      await awaitGone(admin, guest.domid);
      const reborn = await t.reintroduce(guest.domid);
      await admin.setPerms(t.path('n'), ['n0', `r${guest.domid}`]);
      expectEqual(await reborn.read(t.path('n')), 'v', 'the value the new domain read');
    },
  },
  'entry-for-released-domain-accepted': {
    rule: 'SET_PERMS may still name a released domain in a non-owner entry',
    level: 'c-4.17',
    needs: ['guests'],
    sources: [domainCode('domain_adjust_node_perms'), ...SET],
    async run(t) {
      const guest = await t.guest({ home: false });
      const admin = await t.admin();
      await admin.ok({ op: 'RELEASE', domid: guest.domid });
      await admin.setPerms(t.base, ['n0', `r${guest.domid}`]);
      expectEqual(await admin.getPerms(t.base), ['n0', `r${guest.domid}`], 'the permissions');
    },
  },
  'hex-domid': {
    rule: 'Permission domids are parsed like strtol(.., 0): r0x10 means domain 16',
    level: 'c-4.17',
    sources: [...SET, 'tools/libs/store/xs_lib.c: xs_strings_to_perms()'],
    async run(t) {
      const conn = await t.dom0();
      await conn.setPerms(t.base, ['n0', 'r0x10']);
      expectEqual(await conn.getPerms(t.base), ['n0', 'r16'], 'the permissions');
    },
  },
  'bad-letter-einval': badEntry('x0'),
  'no-domid-einval': badEntry('r'),
  'text-domid-einval': badEntry('rabc'),
  'empty-entry-einval': badEntry(''),
  'no-entries-einval': {
    rule: 'SET_PERMS with a path but no permission entry is EINVAL',
    level: 'c-4.17',
    sources: SET,
    async run(t) {
      const conn = await t.dom0();
      await conn.rawFails(MessageType.SET_PERMS, joinStrings([t.base]), 'EINVAL');
    },
  },
  'set-perms-missing-enoent': {
    rule: 'SET_PERMS of a missing node is ENOENT',
    level: 'c-4.17',
    sources: SET,
    async run(t) {
      const conn = await t.dom0();
      await conn.setPermsFails(t.path('missing'), ['n0'], 'ENOENT');
    },
  },
  'dom0-full-access': {
    rule: 'dom0 reads and writes nodes whose permissions exclude it',
    level: 'documented',
    sources: ACCESS,
    needs: ['guests'],
    async run(t) {
      const guest = await t.guest({ home: false });
      const conn = await t.dom0();
      await conn.write(t.path('n'), 'v');
      await conn.setPerms(t.path('n'), [`n${guest.domid}`]);
      await conn.write(t.path('n'), 'w');
      expectEqual(await conn.read(t.path('n')), 'w', 'the value');
    },
  },
  'guest-read-none-eacces': guestRead(
    'A guest without access gets EACCES on READ',
    () => ['n0'],
    'EACCES',
  ),
  'guest-read-entry': guestRead('An r entry for the guest lets it READ', (g) => ['n0', `r${g}`]),
  'guest-read-default': guestRead("The owner entry's letter is every other domain's access", () => [
    'r0',
  ]),
  'guest-read-both': guestRead('A b entry lets the guest READ', (g) => ['n0', `b${g}`]),
  'guest-read-write-only-eacces': guestRead(
    'A w entry does not let the guest READ',
    (g) => ['n0', `w${g}`],
    'EACCES',
  ),
  'guest-read-owner': guestRead('The owner reads its node whatever the letter', (g) => [`n${g}`]),
  'guest-read-other-entry-eacces': guestRead(
    "Another domain's entry gives the guest nothing",
    () => ['n0', `r${ABSENT_DOMID}`],
    'EACCES',
  ),
  'guest-first-entry-wins': guestRead(
    'The first entry naming the guest counts: n then r is no access',
    (g) => ['r0', `n${g}`, `r${g}`],
    'EACCES',
    'c-4.17',
  ),
  'guest-write-read-only-eacces': guestWrite(
    'An r entry does not let the guest WRITE',
    (g) => ['n0', `r${g}`],
    'EACCES',
  ),
  'guest-write-entry': guestWrite('A w entry lets the guest WRITE', (g) => ['n0', `w${g}`]),
  'guest-write-both': guestWrite('A b entry lets the guest WRITE', (g) => ['n0', `b${g}`]),
  'guest-write-default': guestWrite('The owner letter w lets every domain WRITE', () => ['w0']),
  'guest-write-owner': guestWrite('The owner writes its node whatever the letter', (g) => [
    `r${g}`,
  ]),
  'guest-missing-readable-parent-enoent': guestRefused(
    'A missing node under a parent the guest may read is ENOENT',
    HIDING,
    (g) => ['n0', `r${g}`],
    ['READ', '/missing'],
    'ENOENT',
  ),
  'guest-missing-hidden-parent-eacces': guestRefused(
    'A missing node under a parent the guest may not read is EACCES, not ENOENT',
    HIDING,
    () => ['n0'],
    ['READ', '/missing'],
    'EACCES',
  ),
  'guest-missing-nearest-ancestor': guestRefused(
    'For a missing node the nearest existing ancestor decides: readable gives ENOENT',
    HIDING,
    (g) => ['n0', `r${g}`],
    ['READ', '/gone/deeper'],
    'ENOENT',
  ),
  'guest-existing-hidden-eacces': {
    rule: 'An existing node the guest may not read is EACCES even under a readable parent',
    level: 'c-4.17',
    needs: ['guests'],
    sources: HIDING,
    async run(t) {
      const { admin, guest, path } = await guarded(t, (g) => ['n0', `r${g}`]);
      await admin.write(`${path}/secret`, 's');
      await admin.setPerms(`${path}/secret`, ['n0']);
      await guest.conn.fails({ op: 'READ', path: `${path}/secret` }, 'EACCES');
    },
  },
  'guest-missing-outside-eacces': {
    rule: 'A guest reading a missing path under the root (n0) gets EACCES',
    level: 'c-4.17',
    needs: ['guests'],
    sources: HIDING,
    async run(t) {
      const guest = await t.guest({ home: false });
      await guest.conn.fails({ op: 'READ', path: '/xenwire-conformance-missing' }, 'EACCES');
    },
  },
  'guest-create-needs-write': {
    rule: 'Creating a node needs write access to its parent: read-only is EACCES',
    level: 'documented',
    needs: ['guests'],
    sources: [core('create_node'), ...ACCESS],
    async run(t) {
      const { admin, guest, path } = await guarded(t, (g) => ['n0', `r${g}`]);
      await guest.conn.fails(
        { op: 'WRITE', path: `${path}/new`, value: Buffer.from('x') },
        'EACCES',
      );
      expectEqual(await admin.directory(path), [], 'the children after the refusal');
    },
  },
  'guest-create-nearest-ancestor': {
    rule: 'Creating several levels needs write access to the nearest existing ancestor',
    level: 'c-4.17',
    needs: ['guests'],
    sources: [core('create_node'), core('get_node')],
    async run(t) {
      const { admin, guest, path } = await guarded(t, (g) => ['n0', `w${g}`]);
      await guest.conn.write(`${path}/a/b`, 'x');
      expectEqual(await admin.read(`${path}/a/b`), 'x', 'the created value');
    },
  },
  'guest-becomes-owner': {
    rule: "A guest's new node copies the parent's list with the guest as owner, letter kept",
    level: 'c-4.17',
    needs: ['guests'],
    sources: [core('construct_node')],
    async run(t) {
      const { admin, guest, path } = await guarded(t, (g) => ['r0', `b${g}`, 'w5']);
      await guest.conn.write(`${path}/mine`, 'x');
      expectEqual(
        await admin.getPerms(`${path}/mine`),
        [`r${guest.domid}`, `b${guest.domid}`, 'w5'],
        'the new node permissions',
      );
    },
  },
  'guest-rm-needs-write': {
    rule: 'RM by a guest with read access only is EACCES',
    level: 'documented',
    needs: ['guests'],
    sources: [core('do_rm'), ...ACCESS],
    async run(t) {
      const { admin, guest, path } = await guarded(t, (g) => ['n0', `r${g}`]);
      await guest.conn.fails({ op: 'RM', path }, 'EACCES');
      expectEqual(await admin.read(path), 'value', 'the node after the refusal');
    },
  },
  'guest-rm-missing-writable-parent-ok': {
    rule: 'RM of a missing node under a parent the guest may write succeeds',
    level: 'c-4.17',
    needs: ['guests'],
    sources: [core('do_rm')],
    async run(t) {
      const { guest, path } = await guarded(t, (g) => ['n0', `w${g}`]);
      await guest.conn.ok({ op: 'RM', path: `${path}/missing` });
    },
  },
  'guest-rm-missing-readonly-parent-eacces': guestRefused(
    'RM of a missing node under a parent the guest may only read is EACCES',
    [core('do_rm'), ...HIDING],
    (g) => ['n0', `r${g}`],
    ['RM', '/missing'],
    'EACCES',
  ),
  'guest-directory-needs-read': guestRefused(
    'DIRECTORY needs read access',
    [core('send_directory'), ...ACCESS],
    (g) => ['n0', `w${g}`],
    ['DIRECTORY', ''],
    'EACCES',
    'documented',
  ),
  'guest-get-perms-needs-read': guestRefused(
    'GET_PERMS needs read access',
    [core('do_get_perms'), ...ACCESS],
    (g) => ['n0', `w${g}`],
    ['GET_PERMS', ''],
    'EACCES',
    'documented',
  ),
  'guest-get-perms-readable': {
    rule: 'A guest that may read a node gets its whole permission list',
    level: 'documented',
    needs: ['guests'],
    sources: [core('do_get_perms')],
    async run(t) {
      const { guest, path } = await guarded(t, (g) => ['n0', `r${g}`, 'w5']);
      expectEqual(await guest.conn.getPerms(path), ['n0', `r${guest.domid}`, 'w5'], 'the list');
    },
  },
  'guest-mkdir-existing-unwritable-eacces': guestRefused(
    'MKDIR by a guest of an existing node it may not write is EACCES',
    [core('do_mkdir')],
    (g) => ['n0', `r${g}`],
    ['MKDIR', ''],
    'EACCES',
  ),
  'guest-set-perms-needs-owner': {
    rule: 'SET_PERMS needs ownership: write access alone is EACCES',
    level: 'c-4.17',
    needs: ['guests'],
    sources: SET,
    async run(t) {
      const { guest, path } = await guarded(t, (g) => ['n0', `b${g}`]);
      await guest.conn.setPermsFails(path, ['n0', `b${guest.domid}`, 'r5'], 'EACCES');
    },
  },
  'guest-owner-sets-others': {
    rule: 'An owning guest may change the entries after the owner',
    level: 'documented',
    needs: ['guests'],
    sources: SET,
    async run(t) {
      const { admin, guest, path } = await guarded(t, (g) => [`n${g}`]);
      await guest.conn.setPerms(path, [`n${guest.domid}`, 'r0', `b${ABSENT_DOMID}`]);
      expectEqual(
        await admin.getPerms(path),
        [`n${guest.domid}`, 'r0', `b${ABSENT_DOMID}`],
        'the permissions',
      );
    },
  },
  'guest-cannot-give-away': {
    rule: 'An owning guest may not change the owner: EPERM',
    level: 'c-4.17',
    needs: ['guests'],
    sources: [...SET, xsa(115)],
    async run(t) {
      const { admin, guest, path } = await guarded(t, (g) => [`n${g}`]);
      await guest.conn.setPermsFails(path, ['n0'], 'EPERM');
      expectEqual(await admin.getPerms(path), [`n${guest.domid}`], 'the permissions');
    },
  },
  'dom0-gives-ownership': {
    rule: 'dom0 may make a guest the owner of a node',
    level: 'documented',
    needs: ['guests'],
    sources: SET,
    async run(t) {
      const { guest, path } = await guarded(t, (g) => [`n${g}`]);
      expectEqual(await guest.conn.getPerms(path), [`n${guest.domid}`], 'the permissions');
    },
  },
  'guest-root-eacces': {
    rule: 'A guest may not read the root node (n0)',
    level: 'c-4.17',
    needs: ['guests'],
    sources: [core('setup_structure'), ...ACCESS],
    async run(t) {
      const guest = await t.guest({ home: false });
      await guest.conn.fails({ op: 'READ', path: '/' }, 'EACCES');
    },
  },
  'guest-get-domain-path': {
    rule: 'GET_DOMAIN_PATH is open to guests',
    level: 'c-4.17',
    needs: ['guests'],
    sources: [domainCode('do_get_domain_path')],
    async run(t) {
      const guest = await t.guest({ home: false });
      const reply = await guest.conn.ok({ op: 'GET_DOMAIN_PATH', domid: guest.domid });
      expectEqual(reply.toString('latin1'), `${guest.home}\0`, 'the path');
    },
  },
  'guest-control-eacces': privilegedOnly('CONTROL', () => 'print\0x\0', 'c-4.17'),
  'guest-introduce-eacces': privilegedOnly(
    'INTRODUCE',
    () => `${[ABSENT_DOMID, 1, 5].join('\0')}\0`,
    'documented',
  ),
  'guest-release-eacces': privilegedOnly('RELEASE', (g) => `${g}\0`, 'documented'),
  'guest-resume-eacces': privilegedOnly('RESUME', (g) => `${g}\0`, 'documented'),
  'guest-set-target-eacces': privilegedOnly('SET_TARGET', (g) => `${g}\0${g}\0`, 'documented'),
  'guest-is-domain-introduced-eacces': privilegedOnly(
    'IS_DOMAIN_INTRODUCED',
    (g) => `${g}\0`,
    'c-4.17',
  ),
});
