import { type Check, type CheckSpec, checks } from '../check.ts';
import { expectEqual } from '../connection.ts';
import { core, doc } from './sources.ts';

const NODES = [doc('paths (every node has a value and children)')];

/** WRITEs `values` (latin1 text) to one node in turn; READ must give back the last. */
function roundTrip(rule: string, sources: string[], values: string[]): CheckSpec {
  return {
    rule,
    level: 'documented',
    sources,
    async run(t) {
      const conn = await t.dom0();
      for (const value of values) await conn.write(t.path('a'), value);
      expectEqual(await conn.read(t.path('a')), values.at(-1), 'the value read back');
    },
  };
}

export const treeChecks: Check[] = checks('tree', {
  'write-then-read': roundTrip('READ returns what WRITE stored', [doc('READ, WRITE')], ['hello']),
  'write-replaces': roundTrip(
    'A second WRITE replaces the value (a shorter one leaves no tail)',
    [doc('READ, WRITE')],
    ['longer value', 'short'],
  ),
  'write-creates-parents': {
    rule: 'WRITE creates missing parents with empty values',
    level: 'documented',
    sources: [doc('WRITE')],
    async run(t) {
      const conn = await t.dom0();
      await conn.write(t.path('p', 'q', 'r'), 'leaf');
      expectEqual(
        [await conn.read(t.path('p')), await conn.read(t.path('p', 'q'))],
        ['', ''],
        'the values of the created parents',
      );
      expectEqual(await conn.directory(t.path('p')), ['q'], 'the children of the first parent');
    },
  },
  'empty-value': roundTrip(
    'An empty value is stored and read back as an empty payload',
    [doc('READ (<value|>)')],
    ['x', ''],
  ),
  'value-with-nuls': roundTrip(
    'Values are binary: nul bytes inside and at the end survive',
    [doc('READ, WRITE (<value|>: binary data)')],
    ['a\0b\0\0'],
  ),
  'value-all-bytes': roundTrip(
    'Every byte value 0-255 round-trips through WRITE and READ',
    [doc('READ, WRITE (<value|>: binary data)')],
    [String.fromCharCode(...Array.from({ length: 256 }, (_, i) => i))],
  ),
  'read-adds-no-nul': {
    rule: 'The READ reply is the value alone, without a trailing nul',
    level: 'documented',
    sources: [doc('READ (<value|>, no trailing nul)')],
    async run(t) {
      const conn = await t.dom0();
      await conn.write(t.path('a'), 'abc');
      const payload = await conn.ok({ op: 'READ', path: t.path('a') });
      expectEqual(payload.length, 3, 'the reply payload length');
    },
  },
  'read-missing-enoent': {
    rule: 'READ of a missing node is ENOENT',
    level: 'c-4.17',
    sources: [core('do_read'), core('get_node')],
    async run(t) {
      const conn = await t.dom0();
      await conn.fails({ op: 'READ', path: t.path('missing') }, 'ENOENT');
    },
  },
  'read-below-missing-enoent': {
    rule: 'READ below a missing node is ENOENT for dom0',
    level: 'c-4.17',
    sources: [core('do_read'), core('errno_from_parents')],
    async run(t) {
      const conn = await t.dom0();
      await conn.fails({ op: 'READ', path: t.path('missing', 'deeper') }, 'ENOENT');
    },
  },
  'mkdir-creates-empty': {
    rule: 'MKDIR creates a node with an empty value',
    level: 'documented',
    sources: [doc('MKDIR')],
    async run(t) {
      const conn = await t.dom0();
      await conn.mkdir(t.path('d'));
      expectEqual(await conn.read(t.path('d')), '', 'the value');
    },
  },
  'mkdir-creates-parents': {
    rule: 'MKDIR creates missing parents',
    level: 'documented',
    sources: [doc('MKDIR')],
    async run(t) {
      const conn = await t.dom0();
      await conn.mkdir(t.path('d', 'e', 'f'));
      expectEqual(await conn.directory(t.path('d', 'e')), ['f'], 'the children');
    },
  },
  'mkdir-existing-keeps-value': {
    rule: 'MKDIR of an existing node succeeds and leaves its value alone',
    level: 'documented',
    sources: [doc('MKDIR (an existing value is left unchanged)')],
    async run(t) {
      const conn = await t.dom0();
      await conn.write(t.path('d'), 'kept');
      await conn.mkdir(t.path('d'));
      expectEqual(await conn.read(t.path('d')), 'kept', 'the value');
    },
  },
  'mkdir-existing-keeps-children': {
    rule: 'MKDIR of an existing node leaves its children alone',
    level: 'documented',
    sources: [doc('MKDIR')],
    async run(t) {
      const conn = await t.dom0();
      await conn.write(t.path('d', 'child'), '1');
      await conn.mkdir(t.path('d'));
      expectEqual(await conn.directory(t.path('d')), ['child'], 'the children');
    },
  },
  'mkdir-root-ok': {
    rule: 'MKDIR / succeeds (the root always exists)',
    level: 'c-4.17',
    sources: [core('do_mkdir')],
    async run(t) {
      const conn = await t.dom0();
      await conn.mkdir('/');
    },
  },
  'rm-removes-subtree': {
    rule: 'RM deletes the node and everything below it',
    level: 'documented',
    sources: [doc('RM')],
    async run(t) {
      const conn = await t.dom0();
      await conn.write(t.path('r', 'a', 'b'), '1');
      await conn.write(t.path('r', 'c'), '2');
      await conn.rm(t.path('r'));
      await conn.fails({ op: 'READ', path: t.path('r') }, 'ENOENT');
      await conn.fails({ op: 'READ', path: t.path('r', 'a', 'b') }, 'ENOENT');
      expectEqual(await conn.directory(t.base), [], 'the children of the parent');
    },
  },
  'rm-keeps-siblings': {
    rule: "RM of one node leaves its siblings and its parent's value",
    level: 'documented',
    sources: [doc('RM')],
    async run(t) {
      const conn = await t.dom0();
      await conn.write(t.path('p'), 'parent');
      await conn.write(t.path('p', 'a'), '1');
      await conn.write(t.path('p', 'b'), '2');
      await conn.rm(t.path('p', 'a'));
      expectEqual(await conn.directory(t.path('p')), ['b'], 'the children');
      expectEqual(await conn.read(t.path('p')), 'parent', "the parent's value");
    },
  },
  'rm-missing-ok': {
    rule: 'RM of a missing node whose parent exists succeeds',
    level: 'documented',
    sources: [doc('RM (not an error if <path> does not exist)')],
    async run(t) {
      const conn = await t.dom0();
      await conn.rm(t.path('missing'));
    },
  },
  'rm-missing-parent-enoent': {
    rule: 'RM of a node whose parent is missing too is ENOENT',
    level: 'documented',
    sources: [doc('RM (an error if the immediate parent does not exist)')],
    async run(t) {
      const conn = await t.dom0();
      await conn.fails({ op: 'RM', path: t.path('missing', 'child') }, 'ENOENT');
    },
  },
  'rm-root-einval': {
    rule: 'RM / is EINVAL',
    level: 'c-4.17',
    hazard: 'oxenstored 4.17 removes the whole tree instead',
    sources: [core('do_rm')],
    async run(t) {
      const conn = await t.dom0();
      await conn.fails({ op: 'RM', path: '/' }, 'EINVAL');
    },
  },
  'rm-then-recreate': {
    rule: 'A removed node can be created again, without its old children',
    level: 'documented',
    sources: [doc('RM, WRITE')],
    async run(t) {
      const conn = await t.dom0();
      await conn.write(t.path('n', 'old'), '1');
      await conn.rm(t.path('n'));
      await conn.write(t.path('n'), 'new');
      expectEqual(await conn.directory(t.path('n')), [], 'the children');
      expectEqual(await conn.read(t.path('n')), 'new', 'the value');
    },
  },
  'directory-leaf-names': {
    rule: 'DIRECTORY lists the immediate children by their last component only',
    level: 'documented',
    sources: [doc('DIRECTORY')],
    async run(t) {
      const conn = await t.dom0();
      await conn.write(t.path('a', 'deep'), '1');
      await conn.write(t.path('b'), '2');
      expectEqual((await conn.directory(t.base)).sort(), ['a', 'b'], 'the children');
    },
  },
  'directory-empty-payload': {
    rule: 'DIRECTORY of a node without children answers an empty payload',
    level: 'c-4.17',
    sources: [core('send_directory')],
    async run(t) {
      const conn = await t.dom0();
      await conn.write(t.path('leaf'), 'x');
      const payload = await conn.ok({ op: 'DIRECTORY', path: t.path('leaf') });
      expectEqual(payload.length, 0, 'the reply payload length');
    },
  },
  'directory-creation-order': {
    rule: 'DIRECTORY lists children in the order they were created',
    level: 'c-4.17',
    sources: [core('add_child')],
    async run(t) {
      const conn = await t.dom0();
      for (const name of ['zeta', 'alpha', 'mid', 'beta']) await conn.write(t.path(name), '');
      expectEqual(await conn.directory(t.base), ['zeta', 'alpha', 'mid', 'beta'], 'the order');
    },
  },
  'directory-removal-in-place': {
    rule: 'Removing a child keeps the order of the others; a re-created child goes last',
    level: 'c-4.17',
    sources: [core('remove_child_entry')],
    async run(t) {
      const conn = await t.dom0();
      for (const name of ['c', 'a', 'b']) await conn.write(t.path(name), '');
      await conn.rm(t.path('a'));
      await conn.write(t.path('a'), '');
      expectEqual(await conn.directory(t.base), ['c', 'b', 'a'], 'the order');
    },
  },
  'directory-missing-enoent': {
    rule: 'DIRECTORY of a missing node is ENOENT',
    level: 'c-4.17',
    sources: [core('send_directory')],
    async run(t) {
      const conn = await t.dom0();
      await conn.fails({ op: 'DIRECTORY', path: t.path('missing') }, 'ENOENT');
    },
  },
  'value-and-children': {
    rule: 'A node with children keeps and returns its own value',
    level: 'documented',
    sources: NODES,
    async run(t) {
      const conn = await t.dom0();
      await conn.write(t.path('n'), 'mine');
      await conn.write(t.path('n', 'child'), 'theirs');
      expectEqual(await conn.read(t.path('n')), 'mine', 'the value');
    },
  },
  'write-under-leaf': {
    rule: 'A node with a value can gain children (no file/directory distinction)',
    level: 'documented',
    sources: NODES,
    async run(t) {
      const conn = await t.dom0();
      await conn.write(t.path('leaf'), 'v');
      await conn.write(t.path('leaf', 'child'), 'c');
      expectEqual(await conn.directory(t.path('leaf')), ['child'], 'the children');
    },
  },
  'get-perms-missing-enoent': {
    rule: 'GET_PERMS of a missing node is ENOENT',
    level: 'c-4.17',
    sources: [core('do_get_perms')],
    async run(t) {
      const conn = await t.dom0();
      await conn.fails({ op: 'GET_PERMS', path: t.path('missing') }, 'ENOENT');
    },
  },
  'root-value-writable': {
    rule: 'dom0 may store a value on the root node',
    level: 'c-4.17',
    sources: [core('do_write')],
    async run(t) {
      const conn = await t.dom0();
      const before = await conn.read('/');
      t.defer(async () => {
        await (await t.admin()).write('/', before);
      });
      await conn.write('/', 'root value');
      expectEqual(await conn.read('/'), 'root value', 'the value');
    },
  },
  'tool-xenstored-exists': {
    rule: 'The daemon creates /tool/xenstored at start',
    level: 'c-4.17',
    sources: [core('setup_structure')],
    async run(t) {
      const conn = await t.dom0();
      await conn.read('/tool/xenstored');
    },
  },
});
