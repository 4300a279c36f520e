import { joinStrings, MessageType } from '../../xenstore/index.ts';
import { type Check, CheckFailure, type CheckSpec, checks } from '../check.ts';
import { expectEqual } from '../connection.ts';
import type { CheckContext } from '../context.ts';
import { core, doc } from './sources.ts';

const CHARACTERS = [doc('paths (permitted characters)'), core('valid_chars')];
const SHAPE = [doc('paths (doubled and trailing slashes, empty path)'), core('is_valid_nodename')];
const LENGTH = [doc('paths (3072 bytes absolute, 2048 relative)'), core('is_valid_nodename')];

/** A node name of `length` characters below `/local/domain/0` owned by the check. */
async function localDomain0(t: CheckContext, name: string): Promise<string> {
  const admin = await t.admin();
  const path = `/local/domain/0/${name}`;
  t.defer(async () => {
    await admin.rm(path);
  });
  return path;
}

/** WRITE of `${base}/a<ch>b`: EINVAL, and nothing created. */
function forbiddenCharacter(label: string, character: string): [string, CheckSpec] {
  return [
    `char-${label}-einval`,
    {
      rule: `A path holding ${label === 'non-ascii' ? 'a non-ASCII byte' : JSON.stringify(character)} is EINVAL`,
      level: 'documented',
      sources: CHARACTERS,
      async run(t) {
        const conn = await t.dom0();
        await conn.rawFails(MessageType.WRITE, `${t.base}/a${character}b\0x`, 'EINVAL');
        expectEqual(await conn.directory(t.base), [], 'the scratch node after the refused WRITE');
      },
    },
  ];
}

/** A single-path request with an invalid path: EINVAL. */
function invalidPathFor(
  op: 'READ' | 'DIRECTORY' | 'GET_PERMS' | 'MKDIR' | 'RM',
): [string, CheckSpec] {
  return [
    `invalid-path-${op.toLowerCase().replace('_', '-')}-einval`,
    {
      rule: `${op} of a path with a forbidden character is EINVAL`,
      level: 'documented',
      sources: CHARACTERS,
      async run(t) {
        const conn = await t.dom0();
        await conn.fails({ op, path: `${t.base}/bad.name` }, 'EINVAL');
      },
    },
  ];
}

/** WRITE of a malformed path: EINVAL. */
function malformed(
  name: string,
  rule: string,
  path: (base: string) => string,
): [string, CheckSpec] {
  return [
    name,
    {
      rule,
      level: 'documented',
      sources: SHAPE,
      async run(t) {
        const conn = await t.dom0();
        await conn.rawFails(MessageType.WRITE, `${path(t.base)}\0x`, 'EINVAL');
      },
    },
  ];
}

export const pathChecks: Check[] = checks('paths', {
  ...Object.fromEntries([
    forbiddenCharacter('dot', '.'),
    forbiddenCharacter('colon', ':'),
    forbiddenCharacter('space', ' '),
    forbiddenCharacter('percent', '%'),
    forbiddenCharacter('tilde', '~'),
    forbiddenCharacter('plus', '+'),
    forbiddenCharacter('equals', '='),
    forbiddenCharacter('comma', ','),
    forbiddenCharacter('backslash', '\\'),
    forbiddenCharacter('tab', '\t'),
    forbiddenCharacter('non-ascii', '\xc3\xa9'),
    malformed('double-slash-einval', 'A path with a doubled slash is EINVAL', (b) => `${b}//a`),
    malformed('trailing-slash-einval', 'A path ending in a slash is EINVAL', (b) => `${b}/a/`),
    malformed('empty-path-einval', 'The empty path is EINVAL', () => ''),
    malformed('leading-double-slash-einval', 'A path starting // is EINVAL', (b) => `/${b}`),
    invalidPathFor('READ'),
    invalidPathFor('DIRECTORY'),
    invalidPathFor('GET_PERMS'),
    invalidPathFor('MKDIR'),
    invalidPathFor('RM'),
  ]),
  'allowed-characters': {
    rule: 'Letters, digits and - _ @ are allowed in path components',
    level: 'documented',
    sources: CHARACTERS,
    async run(t) {
      const conn = await t.dom0();
      const name = 'AZaz09-_@x';
      await conn.write(t.path(name), 'ok');
      expectEqual(await conn.directory(t.base), [name], 'the children');
    },
  },
  'invalid-set-perms-einval': {
    rule: 'SET_PERMS of a path with a forbidden character is EINVAL',
    level: 'documented',
    sources: CHARACTERS,
    async run(t) {
      const conn = await t.dom0();
      await conn.setPermsFails(`${t.base}/bad.name`, ['n0'], 'EINVAL');
    },
  },
  'invalid-watch-einval': {
    rule: 'WATCH of a path with a forbidden character is EINVAL',
    level: 'c-4.17',
    sources: [...CHARACTERS, 'tools/xenstore/xenstored_watch.c: do_watch()'],
    async run(t) {
      const conn = await t.dom0();
      await conn.fails({ op: 'WATCH', path: `${t.base}/bad.name`, token: 't' }, 'EINVAL');
    },
  },
  'root-readable': {
    rule: 'The root path / is valid: dom0 may READ and DIRECTORY it',
    level: 'documented',
    sources: SHAPE,
    async run(t) {
      const conn = await t.dom0();
      await conn.read('/');
      const children = await conn.directory('/');
      if (!children.includes('xenwire-conformance')) {
        throw new CheckFailure(`DIRECTORY / lacks the scratch node: ${JSON.stringify(children)}`);
      }
    },
  },
  'length-2048-accepted': {
    rule: 'An absolute path of 2048 characters is accepted',
    level: 'documented',
    sources: LENGTH,
    async run(t) {
      const conn = await t.dom0();
      const path = `${t.base}/${'a'.repeat(2048 - t.base.length - 1)}`;
      await conn.write(path, 'x');
      expectEqual(await conn.read(path), 'x', 'the value read back');
    },
  },
  'length-over-3072-einval': {
    rule: 'An absolute path longer than 3072 characters is EINVAL',
    level: 'documented',
    sources: LENGTH,
    async run(t) {
      const conn = await t.dom0();
      await conn.rawFails(
        MessageType.WRITE,
        `${t.base}/${'a'.repeat(3073 - t.base.length)}\0x`,
        'EINVAL',
      );
    },
  },
  'length-2049-einval': {
    rule: 'C 4.17 limits absolute paths to 2048 characters: 2049 is EINVAL',
    level: 'c-4.17',
    sources: [core('is_valid_nodename'), 'tools/xenstore/xenstored_domain.c: domain_max_chk()'],
    async run(t) {
      const conn = await t.dom0();
      await conn.rawFails(
        MessageType.WRITE,
        `${t.base}/${'a'.repeat(2049 - t.base.length - 1)}\0x`,
        'EINVAL',
      );
    },
  },
  'local-domain-prefix-not-counted': {
    rule: 'The 2048-character limit does not count a leading /local/domain/<domid>/',
    level: 'c-4.17',
    sources: [core('is_valid_nodename')],
    async run(t) {
      const conn = await t.dom0();
      const top = await localDomain0(t, 'xenwire-conformance-long');
      const path = `${top}/${'b'.repeat(2048 - 'xenwire-conformance-long/'.length)}`;
      await conn.write(path, 'x');
      expectEqual(await conn.read(path), 'x', 'the value read back');
    },
  },
  'dom0-relative-path': {
    rule: 'A relative path from a dom0 socket connection resolves against /local/domain/0',
    level: 'c-4.17',
    sources: [doc('<path>'), core('canonicalize')],
    async run(t) {
      const conn = await t.dom0();
      const absolute = await localDomain0(t, 'xenwire-conformance-rel');
      await conn.write('xenwire-conformance-rel/x', 'rel');
      expectEqual(await conn.read(`${absolute}/x`), 'rel', 'the value at the absolute path');
    },
  },
  'dom0-relative-read': {
    rule: 'READ and DIRECTORY accept relative paths from dom0',
    level: 'c-4.17',
    sources: [doc('<path>'), core('canonicalize')],
    async run(t) {
      const conn = await t.dom0();
      const absolute = await localDomain0(t, 'xenwire-conformance-rel');
      await conn.write(`${absolute}/y`, 'abs');
      expectEqual(await conn.read('xenwire-conformance-rel/y'), 'abs', 'the relative READ');
      expectEqual(await conn.directory('xenwire-conformance-rel'), ['y'], 'the relative DIRECTORY');
    },
  },
  'relative-double-slash-einval': {
    rule: 'A relative path with a doubled slash is EINVAL',
    level: 'documented',
    sources: SHAPE,
    async run(t) {
      const conn = await t.dom0();
      await conn.rawFails(MessageType.WRITE, 'xenwire-conformance-rel//x\0v', 'EINVAL');
    },
  },
  'guest-relative-path': {
    rule: "A guest's relative path is taken relative to /local/domain/<its domid>",
    level: 'documented',
    needs: ['guests'],
    sources: [doc('<path>'), core('canonicalize')],
    async run(t) {
      const guest = await t.guest();
      await guest.conn.write('data/x', 'mine');
      const admin = await t.admin();
      expectEqual(
        await admin.read(`${guest.home}/data/x`),
        'mine',
        'the value at the absolute path',
      );
    },
  },
  'guest-relative-read': {
    rule: 'A guest reads its own nodes by relative path',
    level: 'documented',
    needs: ['guests'],
    sources: [doc('<path>'), core('canonicalize')],
    async run(t) {
      const guest = await t.guest();
      const admin = await t.admin();
      await admin.write(`${guest.home}/name`, 'guest');
      expectEqual(await guest.conn.read('name'), 'guest', 'the relative READ');
    },
  },
  'special-read-einval': {
    rule: 'READ of a special @ path is EINVAL: @ paths exist only as watch paths',
    level: 'c-4.17',
    sources: [doc('WATCH (@<wspecial>)'), core('is_valid_nodename')],
    async run(t) {
      const conn = await t.dom0();
      await conn.fails({ op: 'READ', path: '@releaseDomain' }, 'EINVAL');
    },
  },
  'special-write-einval': {
    rule: 'WRITE to a special @ path is EINVAL',
    level: 'c-4.17',
    sources: [doc('WATCH (@<wspecial>)'), core('is_valid_nodename')],
    async run(t) {
      const conn = await t.dom0();
      await conn.rawFails(MessageType.WRITE, joinStrings(['@xenwireConformance', 'x']), 'EINVAL');
    },
  },
  'special-mkdir-einval': {
    rule: 'MKDIR of a special @ path is EINVAL',
    level: 'c-4.17',
    sources: [doc('WATCH (@<wspecial>)'), core('is_valid_nodename')],
    async run(t) {
      const conn = await t.dom0();
      await conn.fails({ op: 'MKDIR', path: '@introduceDomain' }, 'EINVAL');
    },
  },
  'special-directory-einval': {
    rule: 'DIRECTORY of a special @ path is EINVAL',
    level: 'c-4.17',
    sources: [doc('WATCH (@<wspecial>)'), core('is_valid_nodename')],
    async run(t) {
      const conn = await t.dom0();
      await conn.fails({ op: 'DIRECTORY', path: '@releaseDomain' }, 'EINVAL');
    },
  },
  'special-rm-einval': {
    rule: 'RM of a special @ path is EINVAL',
    level: 'c-4.17',
    hazard: 'oxenstored 4.17 removes its @releaseDomain node instead',
    sources: [doc('WATCH (@<wspecial>)'), core('is_valid_nodename')],
    async run(t) {
      const conn = await t.dom0();
      await conn.fails({ op: 'RM', path: '@releaseDomain' }, 'EINVAL');
    },
  },
  'special-get-perms-einval': {
    rule: 'GET_PERMS of a special @ path is EINVAL in 4.17 (its permissions can only be set)',
    level: 'c-4.17',
    sources: [core('do_get_perms'), core('is_valid_nodename')],
    async run(t) {
      const conn = await t.dom0();
      await conn.fails({ op: 'GET_PERMS', path: '@introduceDomain' }, 'EINVAL');
    },
  },
  'at-sign-inside-path': {
    rule: 'An @ after the first character is an ordinary path character',
    level: 'documented',
    sources: CHARACTERS,
    async run(t) {
      const conn = await t.dom0();
      await conn.write(t.path('x@y'), 'at');
      expectEqual(await conn.read(t.path('x@y')), 'at', 'the value read back');
    },
  },
});
