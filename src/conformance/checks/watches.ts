import { joinStrings, MessageType, toText } from '../../xenstore/index.ts';
import { type Check, type CheckSpec, checks } from '../check.ts';
import { type CheckConnection, describeMessage, expectEqual, rawMessage } from '../connection.ts';
import type { CheckContext } from '../context.ts';
import { core, doc, domainCode, watchCode, xsa } from './sources.ts';

const FIRING = [doc('WATCH'), watchCode('fire_watches')];
const REGISTER = [doc('WATCH'), watchCode('do_watch')];
const FILTER = [doc('WATCH (restricted by permissions)'), watchCode('watch_permitted')];
const SPECIAL = [
  doc('WATCH (@introduceDomain, @releaseDomain)'),
  domainCode('fire_special_watches'),
];

/** A dom0 connection watching `path` (registration event taken). */
async function watcher(t: CheckContext, path: string, token = 'tok'): Promise<CheckConnection> {
  const conn = await t.dom0();
  await conn.watch(path, token);
  return conn;
}

/** dom0 watches the scratch node, `act` runs on another connection, `expected` events follow. */
function firing(
  rule: string,
  level: CheckSpec['level'],
  act: (conn: CheckConnection, base: string) => Promise<void>,
  expected: (base: string) => string[],
  setup?: (conn: CheckConnection, base: string) => Promise<void>,
): CheckSpec {
  return {
    rule,
    level,
    sources: FIRING,
    async run(t) {
      const actor = await t.dom0();
      await setup?.(actor, t.base);
      const watching = await watcher(t, t.base);
      await act(actor, t.base);
      await watching.expectEvents(expected(t.base).map((path) => [path, 'tok']));
    },
  };
}

/** Sets @introduceDomain or @releaseDomain's permissions for the check, restored after it. */
async function specialPerms(t: CheckContext, path: string, perms: string[]): Promise<void> {
  const admin = await t.admin();
  t.defer(async () => {
    await admin.setPerms(path, ['n0']);
  });
  await admin.setPerms(path, perms);
}

/** A relative watch path under dom0's home, removed after the check. */
async function dom0Relative(t: CheckContext): Promise<[name: string, absolute: string]> {
  const admin = await t.admin();
  const name = 'xenwire-conformance-relw';
  t.defer(async () => {
    await admin.rm(`/local/domain/0/${name}`);
  });
  await admin.mkdir(`/local/domain/0/${name}`);
  return [name, `/local/domain/0/${name}`];
}

export const watchChecks: Check[] = checks('watches', {
  'registration-event': {
    rule: 'A new watch fires once at once with exactly its path and token',
    level: 'documented',
    sources: REGISTER,
    async run(t) {
      await watcher(t, t.base);
    },
  },
  'registration-event-after-ok': {
    rule: 'The registration event comes right after the OK reply to WATCH',
    level: 'c-4.17',
    sources: REGISTER,
    async run(t) {
      const conn = await t.dom0();
      conn.send(rawMessage(MessageType.WATCH, `${t.base}\0tok\0`, 7, 0));
      const first = await conn.next();
      const second = await conn.next();
      expectEqual(
        [describeMessage(first), describeMessage(second)],
        ['WATCH "OK\\u0000"', `WATCH_EVENT ${JSON.stringify(`${t.base}\0tok\0`)}`],
        'the messages after WATCH',
      );
    },
  },
  'event-header-ids-zero': {
    rule: 'A WATCH_EVENT has req_id and tx_id 0',
    level: 'documented',
    sources: [doc('WATCH_EVENT')],
    async run(t) {
      const conn = await t.dom0();
      conn.send(rawMessage(MessageType.WATCH, `${t.base}\0tok\0`, 77, 0));
      await conn.next();
      const event = await conn.next();
      expectEqual(
        [event.type, event.reqId, event.txId],
        [MessageType.WATCH_EVENT, 0, 0],
        'the event header',
      );
    },
  },
  'watch-missing-path': {
    rule: 'A watch may be set on a path that does not exist',
    level: 'c-4.17',
    sources: REGISTER,
    async run(t) {
      await watcher(t, t.path('not', 'there'));
    },
  },
  'fires-on-write': firing(
    'WRITE fires the watch on the node',
    'documented',
    (c, b) => c.write(b, 'x'),
    (b) => [b],
  ),
  'fires-on-same-value': firing(
    'WRITE of the value already there fires too',
    'c-4.17',
    (c, b) => c.write(`${b}/v`, 'same'),
    (b) => [`${b}/v`],
    (c, b) => c.write(`${b}/v`, 'same'),
  ),
  'fires-on-mkdir': firing(
    'MKDIR that creates a node fires',
    'documented',
    (c, b) => c.mkdir(`${b}/d`),
    (b) => [`${b}/d`],
  ),
  'mkdir-existing-silent': firing(
    'MKDIR of an existing node fires nothing',
    'c-4.17',
    (c, b) => c.mkdir(`${b}/d`),
    () => [],
    (c, b) => c.mkdir(`${b}/d`),
  ),
  'fires-on-rm': firing(
    'RM fires the watch',
    'documented',
    (c, b) => c.rm(`${b}/d`),
    (b) => [`${b}/d`],
    (c, b) => c.mkdir(`${b}/d`),
  ),
  'rm-missing-silent': firing(
    'RM of a missing node fires nothing',
    'c-4.17',
    (c, b) => c.rm(`${b}/missing`),
    () => [],
  ),
  'fires-on-set-perms': firing(
    'SET_PERMS fires the watch',
    'documented',
    (c, b) => c.setPerms(`${b}/p`, ['r0']),
    (b) => [`${b}/p`],
    (c, b) => c.mkdir(`${b}/p`),
  ),
  'read-silent': firing(
    'READ, DIRECTORY and GET_PERMS fire nothing',
    'documented',
    async (c, b) => {
      await c.read(b);
      await c.directory(b);
      await c.getPerms(b);
    },
    () => [],
  ),
  'fires-for-descendants': firing(
    'A change below the watched path fires it with the changed path',
    'documented',
    (c, b) => c.write(`${b}/x/y`, '1'),
    (b) => [`${b}/x/y`],
  ),
  'created-parents-silent': firing(
    'A WRITE creating parents fires once, for the written path only',
    'c-4.17',
    (c, b) => c.write(`${b}/p/q/r`, '1'),
    (b) => [`${b}/p/q/r`],
  ),
  'rm-subtree-one-event': firing(
    'RM of a subtree fires a watch above it once, for the removed path',
    'c-4.17',
    (c, b) => c.rm(`${b}/t`),
    (b) => [`${b}/t`],
    async (c, b) => {
      await c.write(`${b}/t/a`, '1');
      await c.write(`${b}/t/b/c`, '2');
    },
  ),
  'events-in-change-order': firing(
    'Events arrive in the order of the changes',
    'c-4.17',
    async (c, b) => {
      for (const name of ['c', 'a', 'b']) await c.write(`${b}/${name}`, '');
    },
    (b) => [`${b}/c`, `${b}/a`, `${b}/b`],
  ),
  'not-for-prefix-sibling': {
    rule: 'A watch on /a/b does not fire for /a/bc (components, not prefixes)',
    level: 'documented',
    sources: [doc('paths (<child> and <parent>)'), ...FIRING],
    async run(t) {
      const conn = await watcher(t, t.path('b'));
      await (await t.dom0()).write(t.path('bc'), 'x');
      await conn.expectEvents([]);
    },
  },
  'not-for-ancestors': {
    rule: 'A change to a parent of the watched path does not fire it',
    level: 'documented',
    sources: FIRING,
    async run(t) {
      const conn = await watcher(t, t.path('x', 'y'));
      await (await t.dom0()).write(t.path('x'), 'v');
      await conn.expectEvents([]);
    },
  },
  'root-sees-everything': {
    rule: 'A watch on / fires for any change',
    level: 'documented',
    sources: [doc('paths (<parent> is /)'), ...FIRING],
    async run(t) {
      const conn = await watcher(t, '/');
      await (await t.dom0()).write(t.path('deep', 'node'), 'x');
      await conn.expectEvents([[t.path('deep', 'node'), 'tok']]);
    },
  },
  'rm-parent-fires-inner-watch': {
    rule: 'Removing a parent of an existing watched node fires that watch with its own path',
    level: 'documented',
    sources: [doc('WATCH_EVENT (recursive removal of a parent gives <wpath>)'), ...FIRING],
    async run(t) {
      const admin = await t.admin();
      await admin.write(t.path('x', 'y', 'z'), '1');
      const conn = await watcher(t, t.path('x', 'y'));
      await admin.rm(t.path('x'));
      await conn.expectEvents([[t.path('x', 'y'), 'tok']]);
    },
  },
  'own-changes-fire': {
    rule: "A connection's own changes fire its watches",
    level: 'c-4.17',
    sources: FIRING,
    async run(t) {
      const conn = await watcher(t, t.base);
      await conn.write(t.path('mine'), '1');
      await conn.expectEvents([[t.path('mine'), 'tok']]);
    },
  },
  'own-event-before-reply': {
    rule: "The event for a connection's own change comes before the reply to that change",
    level: 'c-4.17',
    sources: FIRING,
    async run(t) {
      const conn = await watcher(t, t.base);
      conn.send(rawMessage(MessageType.WRITE, `${t.path('mine')}\0v`, 50, 0));
      const first = await conn.next();
      const second = await conn.next();
      expectEqual(
        [first.type, second.type],
        [MessageType.WATCH_EVENT, MessageType.WRITE],
        'the message types',
      );
    },
  },
  'duplicate-eexist': {
    rule: 'The same path and token twice on one connection is EEXIST',
    level: 'c-4.17',
    sources: REGISTER,
    async run(t) {
      const conn = await watcher(t, t.base);
      await conn.fails({ op: 'WATCH', path: t.base, token: 'tok' }, 'EEXIST');
    },
  },
  'same-path-two-tokens': {
    rule: 'One path watched with two tokens fires both',
    level: 'documented',
    sources: REGISTER,
    async run(t) {
      const conn = await watcher(t, t.base, 'one');
      await conn.watch(t.base, 'two');
      await (await t.dom0()).write(t.path('x'), '');
      const events = (await conn.events()).map(([, token]) => token).sort();
      expectEqual(events, ['one', 'two'], 'the tokens fired');
    },
  },
  'connections-independent': {
    rule: 'The same path and token on two connections are two watches',
    level: 'c-4.17',
    sources: REGISTER,
    async run(t) {
      const a = await watcher(t, t.base);
      const b = await watcher(t, t.base);
      await (await t.dom0()).write(t.path('x'), '');
      await a.expectEvents([[t.path('x'), 'tok']]);
      await b.expectEvents([[t.path('x'), 'tok']]);
    },
  },
  'unwatch-stops-events': {
    rule: 'After UNWATCH the watch fires no more',
    level: 'documented',
    sources: [doc('UNWATCH'), watchCode('do_unwatch')],
    async run(t) {
      const conn = await watcher(t, t.base);
      await conn.unwatch(t.base, 'tok');
      await (await t.dom0()).write(t.path('x'), '');
      await conn.expectEvents([]);
    },
  },
  'unwatch-unknown-enoent': {
    rule: 'UNWATCH of a watch that does not exist is ENOENT',
    level: 'c-4.17',
    sources: [watchCode('do_unwatch')],
    async run(t) {
      const conn = await t.dom0();
      await conn.fails({ op: 'UNWATCH', path: t.base, token: 'tok' }, 'ENOENT');
    },
  },
  'unwatch-wrong-token-enoent': {
    rule: 'UNWATCH needs the exact token: another is ENOENT and the watch stays',
    level: 'c-4.17',
    sources: [watchCode('do_unwatch')],
    async run(t) {
      const conn = await watcher(t, t.base);
      await conn.fails({ op: 'UNWATCH', path: t.base, token: 'other' }, 'ENOENT');
      await (await t.dom0()).write(t.path('x'), '');
      await conn.expectEvents([[t.path('x'), 'tok']]);
    },
  },
  'unwatch-other-connection-enoent': {
    rule: "UNWATCH of another connection's watch is ENOENT",
    level: 'c-4.17',
    sources: [watchCode('do_unwatch')],
    async run(t) {
      await watcher(t, t.base);
      await (await t.dom0()).fails({ op: 'UNWATCH', path: t.base, token: 'tok' }, 'ENOENT');
    },
  },
  'reset-watches-removes-all': {
    rule: "RESET_WATCHES removes all of the connection's watches",
    level: 'documented',
    sources: [doc('RESET_WATCHES'), watchCode('do_reset_watches')],
    async run(t) {
      const conn = await watcher(t, t.base);
      await conn.watch(t.path('a'), 'second');
      await conn.rawOk(MessageType.RESET_WATCHES, '\0');
      await (await t.dom0()).write(t.path('a'), '');
      await conn.expectEvents([]);
    },
  },
  'reset-watches-drops-transactions': {
    rule: "RESET_WATCHES also ends the connection's transactions",
    level: 'documented',
    sources: [doc('RESET_WATCHES'), watchCode('do_reset_watches')],
    async run(t) {
      const conn = await t.dom0();
      const tx = await conn.start();
      await conn.write(t.path('in-tx'), '1', tx);
      await conn.rawOk(MessageType.RESET_WATCHES, '\0');
      await conn.fails({ op: 'READ', path: t.base }, 'ENOENT', tx);
      await conn.fails({ op: 'READ', path: t.path('in-tx') }, 'ENOENT');
    },
  },
  'reset-watches-allows-rewatch': {
    rule: 'After RESET_WATCHES the same watch can be set again',
    level: 'documented',
    sources: [doc('RESET_WATCHES')],
    async run(t) {
      const conn = await watcher(t, t.base);
      await conn.rawOk(MessageType.RESET_WATCHES, '\0');
      await conn.watch(t.base, 'tok');
    },
  },
  'reset-watches-spares-others': {
    rule: "RESET_WATCHES leaves other connections' watches alone",
    level: 'documented',
    sources: [doc('RESET_WATCHES (of the caller)')],
    async run(t) {
      const other = await watcher(t, t.base);
      const conn = await watcher(t, t.base);
      await conn.rawOk(MessageType.RESET_WATCHES, '\0');
      await conn.write(t.path('x'), '');
      await other.expectEvents([[t.path('x'), 'tok']]);
    },
  },
  'reset-watches-empty-payload': {
    rule: 'RESET_WATCHES with an empty payload (no nul at all) is accepted too',
    level: 'c-4.17',
    sources: [watchCode('do_reset_watches')],
    async run(t) {
      const conn = await watcher(t, t.base);
      await conn.rawOk(MessageType.RESET_WATCHES, '');
      await (await t.dom0()).write(t.path('a'), '');
      await conn.expectEvents([]);
    },
  },
  'token-binary': {
    rule: 'A token with bytes outside ASCII and UTF-8 comes back byte for byte',
    level: 'c-4.17',
    sources: REGISTER,
    async run(t) {
      const conn = await t.dom0();
      // As latin1 text: the bytes e9 ff 80, which are no UTF-8.
      const token = 'tok\xe9\xff\x80';
      await conn.rawOk(MessageType.WATCH, `${t.base}\0${token}\0`);
      await conn.expectEvents([[t.base, token]]);
    },
  },
  'watch-tx-id-ignored': {
    rule: 'The tx_id of a WATCH is ignored, even one naming no transaction',
    level: 'documented',
    sources: [doc('WATCH (the tx_id is ignored)'), core('process_message (XS_FLAG_NOTID)')],
    async run(t) {
      const conn = await t.dom0();
      await conn.rawOk(MessageType.WATCH, `${t.base}\0tok\0`, 0x4242);
      await conn.expectEvents([[t.base, 'tok']]);
      await (await t.dom0()).write(t.path('x'), '');
      await conn.expectEvents([[t.path('x'), 'tok']]);
    },
  },
  'unwatch-tx-id-ignored': {
    rule: 'The tx_id of an UNWATCH is ignored',
    level: 'c-4.17',
    sources: [core('process_message (XS_FLAG_NOTID)')],
    async run(t) {
      const conn = await watcher(t, t.base);
      await conn.rawOk(MessageType.UNWATCH, `${t.base}\0tok\0`, 0x4242);
    },
  },
  'token-with-spaces': {
    rule: 'The token is opaque: spaces and punctuation come back unchanged',
    level: 'c-4.17',
    sources: REGISTER,
    async run(t) {
      await watcher(t, t.base, 'a token: with spaces/and.dots');
    },
  },
  'empty-token': {
    rule: 'An empty token is allowed',
    level: 'c-4.17',
    sources: REGISTER,
    async run(t) {
      const conn = await watcher(t, t.base, '');
      await (await t.dom0()).write(t.path('x'), '');
      await conn.expectEvents([[t.path('x'), '']]);
    },
  },
  'watch-one-string-einval': {
    rule: 'WATCH with only a path is EINVAL',
    level: 'documented',
    sources: [doc('WATCH (<wpath>|<token>|)'), watchCode('do_watch')],
    async run(t) {
      const conn = await t.dom0();
      await conn.rawFails(MessageType.WATCH, `${t.base}\0`, 'EINVAL');
    },
  },
  'watch-depth-einval': {
    rule: 'WATCH with a third (depth) string is EINVAL in 4.17',
    level: 'c-4.17',
    sources: [watchCode('do_watch')],
    async run(t) {
      const conn = await t.dom0();
      await conn.rawFails(MessageType.WATCH, joinStrings([t.base, 'tok', '1']), 'EINVAL');
    },
  },
  'watch-invalid-path-einval': {
    rule: 'WATCH of a malformed path is EINVAL',
    level: 'c-4.17',
    sources: [watchCode('do_watch'), core('is_valid_nodename')],
    async run(t) {
      const conn = await t.dom0();
      await conn.fails({ op: 'WATCH', path: `${t.base}//x`, token: 'tok' }, 'EINVAL');
    },
  },
  'relative-watch-dom0': {
    rule: 'A relative watch reports relative paths (dom0 resolves against /local/domain/0)',
    level: 'c-4.17',
    sources: [doc('WATCH_EVENT (relative <wpath>)'), watchCode('get_watch_path')],
    async run(t) {
      const [name, absolute] = await dom0Relative(t);
      const conn = await watcher(t, name);
      await (await t.dom0()).write(`${absolute}/x`, '1');
      await conn.expectEvents([[`${name}/x`, 'tok']]);
    },
  },
  'relative-unwatch': {
    rule: 'UNWATCH takes the relative path the watch was set with',
    level: 'c-4.17',
    sources: [watchCode('do_unwatch')],
    async run(t) {
      const [name] = await dom0Relative(t);
      const conn = await watcher(t, name);
      await conn.unwatch(name, 'tok');
    },
  },
  'relative-watch-guest': {
    rule: "A guest's relative watch fires with paths relative to its home",
    level: 'documented',
    needs: ['guests'],
    sources: [doc('WATCH_EVENT (relative <wpath>)')],
    async run(t) {
      const guest = await t.guest();
      await guest.conn.watch('data', 'tok');
      await (await t.admin()).write(`${guest.home}/data/x`, '1');
      await guest.conn.expectEvents([['data/x', 'tok']]);
    },
  },
  'special-any-name': {
    rule: 'Any @name is accepted as a watch path and fires its registration event',
    level: 'c-4.17',
    sources: REGISTER,
    async run(t) {
      await watcher(t, '@xenwireConformance');
    },
  },
  'special-any-syntax': {
    rule: 'After the @ a special watch path may have any syntax',
    level: 'documented',
    sources: [doc('WATCH (<wspecial> may have any syntax)'), ...REGISTER],
    async run(t) {
      await watcher(t, '@xenwire.conformance:any syntax');
    },
  },
  'special-not-fired-by-writes': {
    rule: 'Node changes never fire @ watches',
    level: 'documented',
    sources: SPECIAL,
    async run(t) {
      const conn = await watcher(t, '@releaseDomain');
      await conn.watch('@introduceDomain', 'intro');
      const admin = await t.admin();
      await admin.write(t.path('x'), '1');
      await admin.rm(t.path('x'));
      await conn.expectEvents([]);
    },
  },
  'introduce-fires': {
    rule: 'INTRODUCE of a new domain fires @introduceDomain',
    level: 'documented',
    needs: ['guests'],
    sources: SPECIAL,
    async run(t) {
      const conn = await watcher(t, '@introduceDomain');
      const { domid, ...args } = await t.reserveGuest();
      await t.introduce(domid, args);
      await conn.expectEvents([['@introduceDomain', 'tok']]);
    },
  },
  'release-fires': {
    rule: 'RELEASE fires @releaseDomain',
    level: 'documented',
    needs: ['guests'],
    sources: SPECIAL,
    async run(t) {
      const guest = await t.guest({ home: false });
      const conn = await watcher(t, '@releaseDomain');
      await (await t.admin()).ok({ op: 'RELEASE', domid: guest.domid });
      await conn.expectEvents([['@releaseDomain', 'tok']]);
    },
  },
  'death-fires': {
    rule: "A domain's destruction fires @releaseDomain without any request",
    level: 'documented',
    needs: ['guests', 'domain-death'],
    sources: [...SPECIAL, domainCode('domain_cleanup')],
    async run(t) {
      const guest = await t.guest({ home: false });
      const conn = await watcher(t, '@releaseDomain');
      await t.destroy(guest.domid);
      expectEqual(await conn.eventsWithin(1), [['@releaseDomain', 'tok']], 'the events');
    },
  },
  'root-watch-misses-special': {
    rule: 'A watch on / does not see @introduceDomain events',
    level: 'documented',
    needs: ['guests'],
    sources: SPECIAL,
    async run(t) {
      const conn = await watcher(t, '/');
      const { domid, ...args } = await t.reserveGuest();
      await t.introduce(domid, args);
      const special = (await conn.events()).filter(([path]) => path.startsWith('@'));
      expectEqual(special, [], 'the special events seen by the root watch');
    },
  },
  'special-hidden-from-guests': {
    rule: 'A guest watching @introduceDomain gets no events while its permissions are n0',
    level: 'c-4.17',
    needs: ['guests'],
    sources: [...SPECIAL, xsa(115)],
    async run(t) {
      const guest = await t.guest({ home: false });
      await guest.conn.watch('@introduceDomain', 'tok');
      const { domid, ...args } = await t.reserveGuest();
      await t.introduce(domid, args);
      await guest.conn.expectEvents([]);
    },
  },
  'special-granted-to-guest': {
    rule: 'SET_PERMS on @introduceDomain lets a guest with read access receive it',
    level: 'c-4.17',
    needs: ['guests'],
    sources: [...SPECIAL, xsa(115), core('do_set_perms')],
    async run(t) {
      const guest = await t.guest({ home: false });
      await specialPerms(t, '@introduceDomain', ['n0', `r${guest.domid}`]);
      await guest.conn.watch('@introduceDomain', 'tok');
      const { domid, ...args } = await t.reserveGuest();
      await t.introduce(domid, args);
      await guest.conn.expectEvents([['@introduceDomain', 'tok']]);
    },
  },
  'release-granted-to-guest': {
    rule: 'SET_PERMS on @releaseDomain lets a guest with read access receive it',
    level: 'c-4.17',
    needs: ['guests'],
    sources: [...SPECIAL, xsa(115)],
    async run(t) {
      const guest = await t.guest({ home: false });
      await specialPerms(t, '@releaseDomain', ['n0', `r${guest.domid}`]);
      const other = await t.guest({ home: false });
      await guest.conn.watch('@releaseDomain', 'tok');
      await (await t.admin()).ok({ op: 'RELEASE', domid: other.domid });
      await guest.conn.expectEvents([['@releaseDomain', 'tok']]);
    },
  },
  'guest-registration-unfiltered': {
    rule: 'A guest gets the registration event even for a path it may not read',
    level: 'c-4.17',
    needs: ['guests'],
    sources: REGISTER,
    async run(t) {
      const guest = await t.guest({ home: false });
      await guest.conn.watch(t.base, 'tok');
    },
  },
  'guest-event-needs-read': {
    rule: 'A guest gets no event for a node it may not read whose parent it may not read',
    level: 'c-4.17',
    needs: ['guests'],
    sources: FILTER,
    async run(t) {
      const guest = await t.guest({ home: false });
      await guest.conn.watch(t.path('n'), 'tok');
      await (await t.admin()).write(t.path('n'), 'secret');
      await guest.conn.expectEvents([]);
    },
  },
  'guest-event-readable': {
    rule: 'A guest gets the event for a node it may read',
    level: 'documented',
    needs: ['guests'],
    sources: FILTER,
    async run(t) {
      const guest = await t.guest({ home: false });
      const admin = await t.admin();
      await admin.write(t.path('n'), '');
      await admin.setPerms(t.path('n'), ['n0', `r${guest.domid}`]);
      await guest.conn.watch(t.path('n'), 'tok');
      await admin.write(t.path('n'), 'open');
      await guest.conn.expectEvents([[t.path('n'), 'tok']]);
    },
  },
  'guest-event-parent-readable': {
    rule: 'A guest gets the event for an unreadable node whose parent it may read',
    level: 'c-4.17',
    needs: ['guests'],
    sources: FILTER,
    async run(t) {
      const guest = await t.guest({ home: false });
      const admin = await t.admin();
      await admin.setPerms(t.base, ['n0', `r${guest.domid}`]);
      await admin.write(t.path('n'), '');
      await admin.setPerms(t.path('n'), ['n0']);
      await guest.conn.watch(t.path('n'), 'tok');
      await admin.write(t.path('n'), 'closed');
      await guest.conn.expectEvents([[t.path('n'), 'tok']]);
    },
  },
  'guest-own-home-events': {
    rule: 'A guest watching its home sees changes dom0 makes there',
    level: 'documented',
    needs: ['guests'],
    sources: FIRING,
    async run(t) {
      const guest = await t.guest();
      await guest.conn.watch(guest.home, 'tok');
      await (await t.admin()).write(`${guest.home}/device`, '1');
      await guest.conn.expectEvents([[`${guest.home}/device`, 'tok']]);
    },
  },
  'event-payload-format': {
    rule: 'A WATCH_EVENT payload is the path and the token, each nul-terminated',
    level: 'documented',
    sources: [doc('WATCH_EVENT (<epath>|<token>|)')],
    async run(t) {
      const conn = await t.dom0();
      conn.send(rawMessage(MessageType.WATCH, `${t.base}\0tok\0`, 5, 0));
      await conn.next();
      const event = await conn.next();
      expectEqual(toText(event.payload), `${t.base}\0tok\0`, 'the event payload');
    },
  },
});
