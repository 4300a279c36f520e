import { DOMID_SELF } from '../../evtchn/index.ts';
import { joinStrings, MessageType, toText } from '../../xenstore/index.ts';
import { type Check, type CheckSpec, checks, type Level } from '../check.ts';
import { expectEqual } from '../connection.ts';
import type { CheckContext } from '../context.ts';
import { awaitGone, isIntroduced } from './domain-state.ts';
import { doc, domainCode, xsa } from './sources.ts';

const PATH = [doc('GET_DOMAIN_PATH'), domainCode('do_get_domain_path')];
const INTRODUCED = [doc('IS_DOMAIN_INTRODUCED'), domainCode('do_is_domain_introduced')];
const INTRODUCE = [doc('INTRODUCE'), domainCode('do_introduce')];
const RELEASE = [doc('RELEASE'), domainCode('do_release')];
const RESUME = [doc('RESUME'), domainCode('do_resume')];
const TARGET = [
  doc('SET_TARGET'),
  domainCode('do_set_target'),
  'tools/xenstore/xenstored_core.c: perm_for_conn()',
];

/** A domid no test host runs. */
const ABSENT_DOMID = 31_000;

/** A dom0 request with a raw payload that must fail with `code`. */
function refused(
  rule: string,
  op: keyof typeof MessageType,
  payload: string,
  code: string,
  sources: string[],
  level: CheckSpec['level'] = 'c-4.17',
): CheckSpec {
  return {
    rule,
    level,
    sources,
    async run(t) {
      await (await t.dom0()).rawFails(MessageType[op], payload, code);
    },
  };
}

/**
 * A controller and a target guest (the target reserved first, so released last) and a node
 * `${base}/n` with the permissions `perms(target, controller)`. With `setTarget`, SET_TARGET
 * has been sent.
 */
async function targeting(
  t: CheckContext,
  perms: (target: number, controller: number) => string[],
  setTarget = true,
) {
  const target = await t.guest({ home: false });
  const controller = await t.guest({ home: false });
  const admin = await t.admin();
  const path = t.path('n');
  await admin.write(path, 'v');
  await admin.setPerms(path, perms(target.domid, controller.domid));
  const set = () => admin.ok({ op: 'SET_TARGET', domid: controller.domid, target: target.domid });
  if (setTarget) await set();
  return { target, controller, path, set };
}

/** GET_DOMAIN_PATH payloads, the domid C reads from each, and what that shows. */
const ATOI_CASES: readonly [
  name: string,
  text: string,
  domid: number,
  how: string,
  level?: Level,
][] = [
  ['normalised', '007', 7, '007 gives 7 (the domid is normalised)', 'documented'],
  ['text', 'abc', 0, 'text counts as 0'],
  ['trailing-text', '7x', 7, 'trailing text is ignored'],
  ['leading-space', ' 12', 12, 'leading blanks are skipped'],
  ['plus-sign', '+5', 5, 'a plus sign is accepted'],
  ['negative', '-1', 4_294_967_295, '-1 prints as an unsigned 32-bit number'],
  ['wraps', '4294967297', 1, 'numbers wrap at 32 bits'],
  ['hex-is-zero', '0x10', 0, 'hex is not understood: 0x10 reads as 0'],
  ['above-16-bits', '65536', 65_536, 'domids above 16 bits are not refused'],
];

export const domainChecks: Check[] = checks('domains', {
  'get-domain-path': {
    rule: 'GET_DOMAIN_PATH answers /local/domain/<domid>, for any domid',
    level: 'documented',
    sources: PATH,
    async run(t) {
      const conn = await t.dom0();
      expectEqual(
        toText(await conn.ok({ op: 'GET_DOMAIN_PATH', domid: 7 })),
        '/local/domain/7\0',
        'the path',
      );
      expectEqual(
        toText(await conn.ok({ op: 'GET_DOMAIN_PATH', domid: ABSENT_DOMID })),
        `/local/domain/${ABSENT_DOMID}\0`,
        'the path of a domain that does not exist',
      );
    },
  },
  ...Object.fromEntries(
    ATOI_CASES.map(([name, text, domid, how, level = 'c-4.17']): [string, CheckSpec] => [
      `get-domain-path-${name}`,
      {
        rule: `GET_DOMAIN_PATH reads its domid with atoi: ${how}`,
        level,
        sources: PATH,
        async run(t) {
          const reply = await (await t.dom0()).rawOk(MessageType.GET_DOMAIN_PATH, `${text}\0`);
          expectEqual(toText(reply), `/local/domain/${domid}\0`, 'the path');
        },
      },
    ]),
  ),
  'is-introduced-text-is-dom0': {
    rule: 'IS_DOMAIN_INTRODUCED reads its domid with atoi: text means dom0, which is introduced',
    level: 'c-4.17',
    sources: INTRODUCED,
    async run(t) {
      const reply = await (await t.dom0()).rawOk(MessageType.IS_DOMAIN_INTRODUCED, 'abc\0');
      expectEqual(toText(reply), 'T\0', 'the answer');
    },
  },
  'release-text-einval': refused(
    'RELEASE reads its domid with atoi: text means dom0, which is EINVAL',
    'RELEASE',
    'abc\0',
    'EINVAL',
    RELEASE,
  ),
  'release-negative-enoent': refused(
    'RELEASE of -1 (no such domain) is ENOENT',
    'RELEASE',
    '-1\0',
    'ENOENT',
    RELEASE,
  ),
  'set-target-text': {
    rule: 'SET_TARGET reads its domids with atoi: text names dom0, which exists, so it succeeds',
    level: 'c-4.17',
    sources: TARGET,
    async run(t) {
      await (await t.dom0()).rawOk(MessageType.SET_TARGET, 'abc\0def\0');
    },
  },
  'get-domain-path-empty-einval': refused(
    'GET_DOMAIN_PATH with an empty payload is EINVAL',
    'GET_DOMAIN_PATH',
    '',
    'EINVAL',
    PATH,
  ),
  'get-domain-path-unterminated-einval': refused(
    'GET_DOMAIN_PATH with a domid lacking its nul is EINVAL',
    'GET_DOMAIN_PATH',
    '5',
    'EINVAL',
    PATH,
  ),
  'is-introduced-unknown': {
    rule: 'IS_DOMAIN_INTRODUCED of a domain never introduced is F',
    level: 'documented',
    sources: INTRODUCED,
    async run(t) {
      expectEqual(await isIntroduced(await t.dom0(), ABSENT_DOMID), 'F\0', 'the answer');
    },
  },
  'is-introduced-self': {
    rule: 'IS_DOMAIN_INTRODUCED of DOMID_SELF is T',
    level: 'c-4.17',
    sources: INTRODUCED,
    async run(t) {
      expectEqual(await isIntroduced(await t.dom0(), DOMID_SELF), 'T\0', 'the answer');
    },
  },
  'is-introduced-dom0': {
    rule: 'IS_DOMAIN_INTRODUCED of dom0 is T',
    level: 'c-4.17',
    sources: INTRODUCED,
    async run(t) {
      expectEqual(await isIntroduced(await t.dom0(), 0), 'T\0', 'the answer');
    },
  },
  'is-introduced-empty-einval': refused(
    'IS_DOMAIN_INTRODUCED with an empty payload is EINVAL',
    'IS_DOMAIN_INTRODUCED',
    '',
    'EINVAL',
    INTRODUCED,
  ),
  'is-introduced-after-introduce': {
    rule: 'IS_DOMAIN_INTRODUCED is T once INTRODUCE succeeded',
    level: 'documented',
    needs: ['guests'],
    sources: INTRODUCED,
    async run(t) {
      const guest = await t.guest({ home: false });
      expectEqual(await isIntroduced(await t.admin(), guest.domid), 'T\0', 'the answer');
    },
  },
  'is-introduced-after-release': {
    rule: 'IS_DOMAIN_INTRODUCED is F after RELEASE',
    level: 'documented',
    needs: ['guests'],
    sources: [...INTRODUCED, ...RELEASE],
    async run(t) {
      const guest = await t.guest({ home: false });
      const admin = await t.admin();
      await admin.ok({ op: 'RELEASE', domid: guest.domid });
      expectEqual(await isIntroduced(admin, guest.domid), 'F\0', 'the answer');
    },
  },
  'is-introduced-after-death': {
    rule: 'IS_DOMAIN_INTRODUCED turns F once the domain is destroyed',
    level: 'documented',
    needs: ['guests', 'domain-death'],
    sources: [...INTRODUCED, domainCode('domain_cleanup')],
    async run(t) {
      const guest = await t.guest({ home: false });
      await t.destroy(guest.domid);
      await awaitGone(await t.admin(), guest.domid);
    },
  },
  'release-dom0-einval': {
    ...refused('RELEASE of domain 0 is EINVAL', 'RELEASE', '0\0', 'EINVAL', RELEASE),
    hazard: 'oxenstored 4.17 releases dom0 instead, removing every node dom0 owns',
  },
  'release-unknown-enoent': refused(
    'RELEASE of a domain never introduced is ENOENT',
    'RELEASE',
    `${ABSENT_DOMID}\0`,
    'ENOENT',
    RELEASE,
  ),
  'release-empty-einval': refused(
    'RELEASE with an empty payload is EINVAL',
    'RELEASE',
    '',
    'EINVAL',
    RELEASE,
  ),
  'release-twice-enoent': {
    rule: 'A second RELEASE of the same domain is ENOENT',
    level: 'c-4.17',
    needs: ['guests'],
    sources: RELEASE,
    async run(t) {
      const guest = await t.guest({ home: false });
      const admin = await t.admin();
      await admin.ok({ op: 'RELEASE', domid: guest.domid });
      await admin.fails({ op: 'RELEASE', domid: guest.domid }, 'ENOENT');
    },
  },
  'release-removes-owned-nodes': {
    rule: 'RELEASE removes the nodes the released domain owned',
    level: 'c-4.17',
    needs: ['guests'],
    sources: [domainCode('domain_tree_remove'), xsa(322)],
    async run(t) {
      const guest = await t.guest({ home: false });
      const admin = await t.admin();
      await admin.write(t.path('owned'), 'x');
      await admin.setPerms(t.path('owned'), [`n${guest.domid}`]);
      await admin.ok({ op: 'RELEASE', domid: guest.domid });
      await admin.fails({ op: 'READ', path: t.path('owned') }, 'ENOENT');
    },
  },
  'release-keeps-other-nodes': {
    rule: 'RELEASE keeps nodes the domain did not own, even those naming it in an entry',
    level: 'c-4.17',
    needs: ['guests'],
    sources: [domainCode('domain_tree_remove')],
    async run(t) {
      const guest = await t.guest({ home: false });
      const admin = await t.admin();
      await admin.write(t.path('shared'), 'x');
      await admin.setPerms(t.path('shared'), ['n0', `r${guest.domid}`]);
      await admin.ok({ op: 'RELEASE', domid: guest.domid });
      expectEqual(await admin.read(t.path('shared')), 'x', 'the value');
    },
  },
  'death-removes-owned-nodes': {
    rule: "A domain's destruction removes the nodes it owned",
    level: 'c-4.17',
    needs: ['guests', 'domain-death'],
    sources: [domainCode('domain_tree_remove'), xsa(322)],
    async run(t) {
      const guest = await t.guest({ home: false });
      const admin = await t.admin();
      await admin.write(t.path('owned'), 'x');
      await admin.setPerms(t.path('owned'), [`n${guest.domid}`]);
      await t.destroy(guest.domid);
      await awaitGone(admin, guest.domid);
      await admin.fails({ op: 'READ', path: t.path('owned') }, 'ENOENT');
    },
  },
  'resume-dom0-einval': refused('RESUME of domain 0 is EINVAL', 'RESUME', '0\0', 'EINVAL', RESUME),
  'resume-unknown-enoent': refused(
    'RESUME of a domain never introduced is ENOENT',
    'RESUME',
    `${ABSENT_DOMID}\0`,
    'ENOENT',
    RESUME,
  ),
  'resume-introduced-ok': {
    rule: 'RESUME of an introduced domain succeeds',
    level: 'c-4.17',
    needs: ['guests'],
    sources: RESUME,
    async run(t) {
      const guest = await t.guest({ home: false });
      await (await t.admin()).ok({ op: 'RESUME', domid: guest.domid });
    },
  },
  'introduce-two-strings-einval': refused(
    'INTRODUCE with fewer than three strings is EINVAL',
    'INTRODUCE',
    joinStrings([String(ABSENT_DOMID), '1']).toString('latin1'),
    'EINVAL',
    INTRODUCE,
  ),
  'introduce-port-zero-einval': refused(
    'INTRODUCE with event channel 0 is EINVAL',
    'INTRODUCE',
    joinStrings([String(ABSENT_DOMID), '1', '0']).toString('latin1'),
    'EINVAL',
    INTRODUCE,
  ),
  'introduce-again-ok': {
    rule: 'INTRODUCE of an introduced domain succeeds and leaves it introduced',
    level: 'c-4.17',
    needs: ['guests'],
    sources: INTRODUCE,
    async run(t) {
      const { domid, ...args } = await t.reserveGuest();
      await t.introduce(domid, args);
      await t.introduce(domid, args);
      expectEqual(await isIntroduced(await t.admin(), domid), 'T\0', 'the answer');
    },
  },
  'introduce-again-silent': {
    rule: 'INTRODUCE of an introduced domain does not fire @introduceDomain again',
    level: 'c-4.17',
    needs: ['guests'],
    sources: INTRODUCE,
    async run(t) {
      const { domid, ...args } = await t.reserveGuest();
      await t.introduce(domid, args);
      const watching = await t.dom0();
      await watching.watch('@introduceDomain', 'tok');
      await t.introduce(domid, args);
      await watching.expectEvents([]);
    },
  },
  'introduce-again-resets-watches': {
    rule: "INTRODUCE of an introduced domain drops that domain's watches",
    level: 'c-4.17',
    needs: ['guests'],
    sources: [...INTRODUCE, domainCode('domain_conn_reset')],
    async run(t) {
      const { domid, ...args } = await t.reserveGuest();
      await t.introduce(domid, args);
      const conn = await t.connectGuest(domid);
      await conn.watch('@introduceDomain', 'tok');
      await t.introduce(domid, args);
      await conn.watch('@introduceDomain', 'tok');
    },
  },
  'set-target-owned-nodes': {
    rule: 'SET_TARGET gives the controller full access to nodes its target owns',
    level: 'documented',
    needs: ['guests'],
    sources: TARGET,
    async run(t) {
      const { controller, path, set } = await targeting(t, (target) => [`n${target}`], false);
      await controller.conn.fails({ op: 'READ', path }, 'EACCES');
      await set();
      expectEqual(await controller.conn.read(path), 'v', 'the value the controller read');
      await controller.conn.write(path, 'w');
    },
  },
  'set-target-inherits-entries': {
    rule: "SET_TARGET gives the controller the target's access on other nodes",
    level: 'documented',
    needs: ['guests'],
    sources: TARGET,
    async run(t) {
      const { controller, path } = await targeting(t, (target) => ['n0', `r${target}`]);
      expectEqual(await controller.conn.read(path), 'v', 'the value the controller read');
      await controller.conn.fails({ op: 'WRITE', path, value: Buffer.from('w') }, 'EACCES');
    },
  },
  'set-target-one-way': {
    rule: 'SET_TARGET gives the target nothing of the controller',
    level: 'documented',
    needs: ['guests'],
    sources: TARGET,
    async run(t) {
      const { target, path } = await targeting(t, (_, controller) => [`n${controller}`]);
      await target.conn.fails({ op: 'READ', path }, 'EACCES');
    },
  },
  'set-target-unknown-enoent': refused(
    'SET_TARGET naming domains that do not exist is ENOENT',
    'SET_TARGET',
    joinStrings([String(ABSENT_DOMID), String(ABSENT_DOMID + 1)]).toString('latin1'),
    'ENOENT',
    TARGET,
  ),
  'set-target-one-string-einval': refused(
    'SET_TARGET with one string is EINVAL',
    'SET_TARGET',
    `${ABSENT_DOMID}\0`,
    'EINVAL',
    TARGET,
  ),
});
