import { joinStrings, MessageType, PAYLOAD_MAX, toText } from '../../xenstore/index.ts';
import { type Check, CheckFailure, type CheckSpec, checks } from '../check.ts';
import { type CheckConnection, expectEqual } from '../connection.ts';
import type { CheckContext } from '../context.ts';
import { core, doc } from './sources.ts';

const PART = [doc('DIRECTORY_PART'), core('send_directory_part')];

/** One DIRECTORY_PART reply, split up. */
interface Part {
  generation: string;
  /** The child-list bytes of this slice (names each followed by a nul). */
  slice: string;
  complete: boolean;
  size: number;
}

function parsePart(payload: Buffer): Part {
  const text = toText(payload);
  const nul = text.indexOf('\0');
  if (nul <= 0) throw new CheckFailure(`DIRECTORY_PART answered ${JSON.stringify(text)}`);
  const rest = text.slice(nul + 1);
  // A complete list ends with an extra nul: an empty name after the last one.
  const complete = rest === '\0' || rest.endsWith('\0\0');
  return {
    generation: text.slice(0, nul),
    slice: complete ? rest.slice(0, -1) : rest,
    complete,
    size: payload.length,
  };
}

async function part(conn: CheckConnection, path: string, offset: number | string, txId = 0) {
  return parsePart(
    await conn.rawOk(MessageType.DIRECTORY_PART, joinStrings([path, String(offset)]), txId),
  );
}

/** `count` children of `length`-character names under the scratch node; their names. */
async function children(t: CheckContext, count: number, length: number): Promise<string[]> {
  const admin = await t.admin();
  const names = Array.from(
    { length: count },
    (_, i) => `${String(i).padStart(3, '0')}${'c'.repeat(length - 3)}`,
  );
  await admin.pipeline(
    names.map((name) => ({ op: 'WRITE' as const, path: t.path(name), value: Buffer.alloc(0) })),
  );
  return names;
}

/** The scratch node's generation differs after `change` (which starts with a child `old`). */
function generationChanges(
  rule: string,
  change: (conn: CheckConnection, t: CheckContext) => Promise<void>,
): CheckSpec {
  return {
    rule,
    level: 'documented',
    sources: PART,
    async run(t) {
      const conn = await t.dom0();
      await conn.write(t.path('old'), '');
      const before = await part(conn, t.base, 0);
      await change(conn, t);
      const after = await part(conn, t.base, 0);
      if (after.generation === before.generation) {
        throw new CheckFailure(`the generation stayed ${before.generation}`);
      }
    },
  };
}

export const directoryPartChecks: Check[] = checks('directory-part', {
  'whole-list': {
    rule: 'Offset 0 of a short list answers the generation, every child and a final empty name',
    level: 'documented',
    sources: PART,
    async run(t) {
      const names = await children(t, 3, 8);
      const first = await part(await t.dom0(), t.base, 0);
      expectEqual(
        [first.slice, first.complete],
        [names.map((n) => `${n}\0`).join(''), true],
        'the slice',
      );
    },
  },
  'generation-format': {
    rule: 'The generation is a non-empty string of hex digits',
    level: 'c-4.17',
    sources: PART,
    async run(t) {
      const { generation } = await part(await t.dom0(), t.base, 0);
      if (!/^[0-9a-f]+$/.test(generation))
        throw new CheckFailure(`generation ${JSON.stringify(generation)}`);
    },
  },
  'no-children': {
    rule: 'A node without children answers the generation and one empty name',
    level: 'c-4.17',
    sources: PART,
    async run(t) {
      const reply = toText(
        await (await t.dom0()).rawOk(MessageType.DIRECTORY_PART, joinStrings([t.base, '0'])),
      );
      if (!/^[0-9a-f]+\0\0$/.test(reply))
        throw new CheckFailure(`DIRECTORY_PART answered ${JSON.stringify(reply)}`);
    },
  },
  'offset-past-end': {
    rule: 'An offset at or past the end of the list answers an empty, complete slice',
    level: 'c-4.17',
    sources: PART,
    async run(t) {
      await children(t, 2, 5);
      const past = await part(await t.dom0(), t.base, 100);
      expectEqual([past.slice, past.complete], ['', true], 'the slice');
    },
  },
  'offset-mid-name': {
    rule: 'The offset counts bytes of the list: an offset inside a name starts there',
    level: 'c-4.17',
    sources: PART,
    async run(t) {
      const [first] = await children(t, 1, 6);
      const slice = await part(await t.dom0(), t.base, 2);
      expectEqual(slice.slice, `${first!.slice(2)}\0`, 'the slice');
    },
  },
  'slices-cover-list': {
    rule: 'Slices fetched by advancing the offset rebuild a list longer than a reply',
    level: 'c-4.17',
    sources: PART,
    async run(t) {
      const names = await children(t, 60, 100);
      const conn = await t.dom0();
      let offset = 0;
      let listing = '';
      let slices = 0;
      for (;;) {
        const next = await part(conn, t.base, offset);
        if (next.size > PAYLOAD_MAX) throw new CheckFailure(`a reply of ${next.size} bytes`);
        listing += next.slice;
        offset += next.slice.length;
        slices++;
        if (next.complete) break;
        if (slices > 10 || next.slice.length === 0)
          throw new CheckFailure('the slices do not advance');
      }
      expectEqual(listing.split('\0').slice(0, -1).sort(), names, 'the names rebuilt');
      if (slices < 2) throw new CheckFailure('a 6 KB listing came in one reply');
    },
  },
  'generation-stable': {
    rule: 'The generation stays the same while the node does not change',
    level: 'c-4.17',
    sources: PART,
    async run(t) {
      await children(t, 2, 5);
      const conn = await t.dom0();
      const before = await part(conn, t.base, 0);
      await conn.read(t.base);
      await conn.write(t.path('000cc', 'below'), 'x');
      expectEqual((await part(conn, t.base, 0)).generation, before.generation, 'the generation');
    },
  },
  'generation-changes-on-new-child': generationChanges(
    'The generation changes when a child is added',
    (conn, t) => conn.write(t.path('new'), ''),
  ),
  'generation-changes-on-removed-child': generationChanges(
    'The generation changes when a child is removed',
    (conn, t) => conn.rm(t.path('old')),
  ),
  'generation-changes-on-value': generationChanges(
    "The generation changes when the node's own value is written",
    (conn, t) => conn.write(t.base, 'changed'),
  ),
  'missing-enoent': {
    rule: 'DIRECTORY_PART of a missing node is ENOENT',
    level: 'c-4.17',
    sources: PART,
    async run(t) {
      await (await t.dom0()).rawFails(
        MessageType.DIRECTORY_PART,
        joinStrings([t.path('missing'), '0']),
        'ENOENT',
      );
    },
  },
  'one-string-einval': {
    rule: 'DIRECTORY_PART without an offset is EINVAL',
    level: 'c-4.17',
    sources: PART,
    async run(t) {
      await (await t.dom0()).rawFails(MessageType.DIRECTORY_PART, joinStrings([t.base]), 'EINVAL');
    },
  },
  'text-offset-zero': {
    rule: 'The offset is read with atoi: text counts as 0',
    level: 'c-4.17',
    sources: PART,
    async run(t) {
      await children(t, 2, 5);
      const conn = await t.dom0();
      expectEqual(
        (await part(conn, t.base, 'abc')).slice,
        (await part(conn, t.base, 0)).slice,
        'the slice',
      );
    },
  },
  'inside-transaction': {
    rule: 'DIRECTORY_PART inside a transaction lists the children it created',
    level: 'c-4.17',
    sources: PART,
    async run(t) {
      const conn = await t.dom0();
      const tx = await conn.start();
      await conn.write(t.path('intx'), '', tx);
      expectEqual((await part(conn, t.base, 0, tx)).slice, 'intx\0', 'the slice inside');
      expectEqual((await part(conn, t.base, 0)).slice, '', 'the slice outside');
    },
  },
  'guest-needs-read': {
    rule: 'DIRECTORY_PART needs read access',
    level: 'c-4.17',
    needs: ['guests'],
    sources: [...PART, core('perm_for_conn')],
    async run(t) {
      const guest = await t.guest({ home: false });
      await guest.conn.rawFails(MessageType.DIRECTORY_PART, joinStrings([t.base, '0']), 'EACCES');
    },
  },
  'client-lists-long-directory': {
    rule: "A client's DIRECTORY of a list too long for one reply completes through DIRECTORY_PART",
    level: 'documented',
    sources: [...PART, 'tools/libs/store/xs.c: xs_directory()'],
    async run(t) {
      const names = await children(t, 60, 100);
      const client = await t.client();
      expectEqual((await client.directory(t.base)).sort(), names, 'the names the client listed');
    },
  },
});
