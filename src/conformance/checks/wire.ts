import { setTimeout as sleep } from 'node:timers/promises';
import {
  encodeMessage,
  encodeRequest,
  HEADER_SIZE,
  type Message,
  MessageType,
  PAYLOAD_MAX,
  toText,
  writeHeader,
} from '../../xenstore/index.ts';
import { type Check, CheckFailure, type CheckSpec, checks } from '../check.ts';
import { type CheckConnection, describeMessage, expectEqual, rawMessage } from '../connection.ts';
import type { CheckContext } from '../context.ts';
import { core, doc, wireHeader } from './sources.ts';

const FRAMING = [doc('introduction (header, req_id, tx_id)'), wireHeader('struct xsd_sockmsg')];

/** A header announcing `len` payload bytes, sent without them. */
function lyingHeader(len: number): Buffer {
  const header = Buffer.alloc(HEADER_SIZE);
  writeHeader(header, { type: MessageType.WRITE, reqId: 1, txId: 0, len });
  return header;
}

/** Requires `reply` to echo `reqId` and `txId` and to be of type `type`. */
function expectHeader(reply: Message, type: number, reqId: number, txId: number): void {
  expectEqual(
    { type: reply.type, reqId: reply.reqId, txId: reply.txId },
    { type, reqId, txId },
    `the header of ${describeMessage(reply)}`,
  );
}

/** Sends `message` with `reqId` and requires a reply echoing the header. */
async function echoes(conn: CheckConnection, message: Message, replyType: number): Promise<void> {
  conn.send(message);
  expectHeader(await conn.reply(), replyType, message.reqId, message.txId);
}

/** The replies to `messages`, sent in one write, in arrival order. */
async function pipelined(conn: CheckConnection, messages: readonly Message[]): Promise<Message[]> {
  conn.sendFrame(Buffer.concat(messages.map((message) => encodeMessage(message))));
  const replies: Message[] = [];
  for (const _ of messages) replies.push(await conn.reply());
  return replies;
}

/** Sends `bytes` in pieces of `size`, pausing between them so that each arrives on its own. */
async function trickle(conn: CheckConnection, bytes: Buffer, sizes: readonly number[]) {
  let at = 0;
  for (const size of sizes) {
    conn.sendFrame(bytes.subarray(at, at + size));
    at += size;
    await sleep(2);
  }
  if (at < bytes.length) conn.sendFrame(bytes.subarray(at));
}

async function connWithValue(t: CheckContext, value: string): Promise<[CheckConnection, string]> {
  const conn = await t.dom0();
  await conn.write(t.path('v'), value);
  return [conn, t.path('v')];
}

/** An unknown or server-to-client type: ENOSYS, and the connection goes on. */
function enosys(type: number, rule: string, level: CheckSpec['level']): CheckSpec {
  return {
    rule,
    level,
    sources: [core('process_message'), wireHeader('enum xsd_sockmsg_type')],
    async run(t) {
      const conn = await t.dom0();
      await conn.rawFails(type, `${t.base}\0`, 'ENOSYS');
      await conn.read(t.base);
    },
  };
}

/** A single-path request whose payload is not exactly one nul-terminated string: EINVAL. */
function malformedSinglePath(op: 'READ' | 'DIRECTORY' | 'GET_PERMS' | 'MKDIR' | 'RM') {
  const shapes = {
    'no-nul': (path: string) => path,
    'two-strings': (path: string) => `${path}\0x\0`,
    empty: () => '',
  };
  return Object.fromEntries(
    Object.entries(shapes).map(([shape, payload]): [string, CheckSpec] => [
      `${op.toLowerCase().replace('_', '-')}-${shape}-einval`,
      {
        rule: `${op} whose payload is not exactly one nul-terminated path (${shape}) is EINVAL`,
        level: 'documented',
        sources: [doc(`${op} (<path>|)`), core(`do_${op.toLowerCase()}`)],
        hazard:
          'C 4.17 answers a stale errno here and aborts when that errno is 0 (fixed upstream)',
        async run(t) {
          const conn = await t.dom0();
          await conn.rawFails(MessageType[op], payload(t.base), 'EINVAL');
          await conn.read(t.base);
        },
      },
    ]),
  );
}

export const wireChecks: Check[] = checks('wire', {
  'reply-has-request-type': {
    rule: 'A successful reply has the type of its request',
    level: 'documented',
    sources: FRAMING,
    async run(t) {
      const conn = await t.dom0();
      const reqId = conn.nextReqId();
      await echoes(conn, rawMessage(MessageType.READ, `${t.base}\0`, reqId, 0), MessageType.READ);
    },
  },
  'ok-payload': {
    rule: 'WRITE, MKDIR, RM and SET_PERMS answer OK followed by a nul',
    level: 'documented',
    sources: [doc('success responses (OK|)')],
    async run(t) {
      const conn = await t.dom0();
      const path = t.path('a');
      const replies = [
        await conn.request({ op: 'WRITE', path, value: Buffer.from('x') }),
        await conn.request({ op: 'MKDIR', path }),
        await conn.request({ op: 'SET_PERMS', path, perms: [{ access: 'n', domid: 0 }] }),
        await conn.request({ op: 'RM', path }),
      ];
      expectEqual(
        replies.map((reply) => toText(reply.payload)),
        ['OK\0', 'OK\0', 'OK\0', 'OK\0'],
        'the replies',
      );
    },
  },
  'error-reply-format': {
    rule: 'A failure is answered by type ERROR carrying the errno name and a nul',
    level: 'documented',
    sources: [doc('Error replies'), wireHeader('xsd_errors')],
    async run(t) {
      const conn = await t.dom0();
      const reply = await conn.request({ op: 'READ', path: t.path('missing') });
      expectEqual(
        [reply.type, toText(reply.payload)],
        [MessageType.ERROR, 'ENOENT\0'],
        'the reply to READ of a missing node',
      );
    },
  },
  'req-id-echoed': {
    rule: "A reply copies the request's req_id",
    level: 'documented',
    sources: FRAMING,
    async run(t) {
      const conn = await t.dom0();
      const message = rawMessage(MessageType.READ, `${t.base}\0`, 0x1234_5678, 0);
      await echoes(conn, message, MessageType.READ);
    },
  },
  'req-id-zero-echoed': {
    rule: 'req_id 0 (what libxenstore always sends) is answered with req_id 0',
    level: 'documented',
    sources: [...FRAMING, 'tools/libs/store/xs.c: xs_talkv()'],
    async run(t) {
      const conn = await t.dom0();
      await echoes(conn, rawMessage(MessageType.READ, `${t.base}\0`, 0, 0), MessageType.READ);
    },
  },
  'req-id-max-echoed': {
    rule: 'req_id 0xffffffff is echoed whole',
    level: 'documented',
    sources: FRAMING,
    async run(t) {
      const conn = await t.dom0();
      const message = rawMessage(MessageType.READ, `${t.base}\0`, 0xffff_ffff, 0);
      await echoes(conn, message, MessageType.READ);
    },
  },
  'error-echoes-req-id': {
    rule: "An ERROR reply copies the request's req_id",
    level: 'documented',
    sources: [doc('introduction (only req_id and tx_id copied on error)')],
    async run(t) {
      const conn = await t.dom0();
      const message = rawMessage(MessageType.READ, `${t.path('missing')}\0`, 0xabcd, 0);
      await echoes(conn, message, MessageType.ERROR);
    },
  },
  'error-echoes-tx-id': {
    rule: "An ERROR reply copies the request's tx_id, even one naming no transaction",
    level: 'documented',
    sources: [doc('introduction (only req_id and tx_id copied on error)')],
    async run(t) {
      const conn = await t.dom0();
      const message = rawMessage(MessageType.READ, `${t.base}\0`, 9, 0x7777);
      await echoes(conn, message, MessageType.ERROR);
    },
  },
  'transaction-reply-echoes-tx-id': {
    rule: "A reply to a request inside a transaction copies the transaction's id",
    level: 'documented',
    sources: FRAMING,
    async run(t) {
      const conn = await t.dom0();
      const tx = await conn.start();
      await echoes(conn, rawMessage(MessageType.READ, `${t.base}\0`, 5, tx), MessageType.READ);
    },
  },
  'duplicate-req-ids-answered': {
    rule: 'Requests in flight need not have distinct req_ids: each is answered',
    level: 'c-4.17',
    sources: [core('process_message'), 'tools/libs/store/xs.c: xs_talkv()'],
    async run(t) {
      const conn = await t.dom0();
      const replies = await pipelined(conn, [
        rawMessage(MessageType.READ, `${t.base}\0`, 3, 0),
        rawMessage(MessageType.READ, `${t.path('missing')}\0`, 3, 0),
      ]);
      expectEqual(
        replies.map((reply) => [reply.type, reply.reqId]),
        [
          [MessageType.READ, 3],
          [MessageType.ERROR, 3],
        ],
        'the replies',
      );
    },
  },
  'several-requests-in-one-write': {
    rule: 'Several requests arriving in one write are all answered',
    level: 'documented',
    sources: [doc('introduction (several requests, match by req_id)')],
    async run(t) {
      const conn = await t.dom0();
      const replies = await pipelined(
        conn,
        [11, 12, 13].map((reqId) => rawMessage(MessageType.READ, `${t.base}\0`, reqId, 0)),
      );
      expectEqual(replies.map((reply) => reply.reqId).sort(), [11, 12, 13], 'the req_ids answered');
    },
  },
  'replies-in-request-order': {
    rule: 'Requests on one connection are answered in the order they were sent',
    level: 'c-4.17',
    sources: [doc('introduction (the current implementation replies in order)')],
    async run(t) {
      const conn = await t.dom0();
      const path = t.path('n');
      const replies = await pipelined(conn, [
        encodeRequest({ op: 'WRITE', path, value: Buffer.from('1') }, { reqId: 21, txId: 0 }),
        encodeRequest({ op: 'READ', path }, { reqId: 22, txId: 0 }),
        encodeRequest({ op: 'RM', path }, { reqId: 23, txId: 0 }),
        encodeRequest({ op: 'READ', path }, { reqId: 24, txId: 0 }),
      ]);
      expectEqual(
        replies.map((reply) => [reply.reqId, toText(reply.payload)]),
        [
          [21, 'OK\0'],
          [22, '1'],
          [23, 'OK\0'],
          [24, 'ENOENT\0'],
        ],
        'the replies',
      );
    },
  },
  'request-byte-by-byte': {
    rule: 'A request arriving one byte at a time is answered once complete',
    level: 'documented',
    sources: [...FRAMING, core('handle_input')],
    async run(t) {
      const [conn, path] = await connWithValue(t, 'trickled');
      const bytes = encodeMessage(rawMessage(MessageType.READ, `${path}\0`, 31, 0));
      await trickle(conn, bytes, Array(bytes.length - 1).fill(1));
      const reply = await conn.reply();
      expectEqual([reply.reqId, toText(reply.payload)], [31, 'trickled'], 'the reply');
    },
  },
  'header-and-payload-apart': {
    rule: 'A header and its payload arriving in separate writes make one request',
    level: 'documented',
    sources: [...FRAMING, core('handle_input')],
    async run(t) {
      const [conn, path] = await connWithValue(t, 'split');
      const bytes = encodeMessage(rawMessage(MessageType.READ, `${path}\0`, 32, 0));
      await trickle(conn, bytes, [HEADER_SIZE]);
      const reply = await conn.reply();
      expectEqual([reply.reqId, toText(reply.payload)], [32, 'split'], 'the reply');
    },
  },
  'header-split-midway': {
    rule: 'A header cut in two by the transport is reassembled',
    level: 'documented',
    sources: [...FRAMING, core('handle_input')],
    async run(t) {
      const [conn, path] = await connWithValue(t, 'cut');
      const bytes = encodeMessage(rawMessage(MessageType.READ, `${path}\0`, 33, 0));
      await trickle(conn, bytes, [7, 5]);
      const reply = await conn.reply();
      expectEqual([reply.reqId, toText(reply.payload)], [33, 'cut'], 'the reply');
    },
  },
  'message-and-a-half': {
    rule: 'A write holding one request and part of the next answers the first, then the second',
    level: 'documented',
    sources: [...FRAMING, core('handle_input')],
    async run(t) {
      const [conn, path] = await connWithValue(t, 'half');
      const bytes = Buffer.concat([
        encodeMessage(rawMessage(MessageType.READ, `${path}\0`, 34, 0)),
        encodeMessage(rawMessage(MessageType.READ, `${path}\0`, 35, 0)),
      ]);
      await trickle(conn, bytes, [bytes.length - 10]);
      const replies = [await conn.reply(), await conn.reply()];
      expectEqual(
        replies.map((reply) => [reply.reqId, toText(reply.payload)]),
        [
          [34, 'half'],
          [35, 'half'],
        ],
        'the replies',
      );
    },
  },
  'payload-max-accepted': {
    rule: 'A request payload of exactly 4096 bytes (XENSTORE_PAYLOAD_MAX) is accepted',
    level: 'documented',
    sources: [doc('introduction (payload length limit)'), wireHeader('XENSTORE_PAYLOAD_MAX')],
    async run(t) {
      const conn = await t.dom0();
      const path = t.path('big');
      const value = 'v'.repeat(PAYLOAD_MAX - path.length - 1);
      await conn.write(path, value);
      expectEqual((await conn.read(path)).length, value.length, 'the length read back');
    },
  },
  'oversize-header-drops-connection': {
    rule: 'A header announcing more than 4096 payload bytes gets the connection closed, no reply',
    level: 'documented',
    sources: [doc('introduction (payload length limit)'), core('handle_input')],
    async run(t) {
      const conn = await t.dom0();
      conn.sendFrame(lyingHeader(PAYLOAD_MAX + 1));
      if (!(await conn.closesWithin(2000))) {
        throw new CheckFailure('the connection stayed open after a 4097-byte header');
      }
    },
  },
  'huge-header-drops-connection': {
    rule: 'A header announcing 0xffffffff payload bytes gets the connection closed, no reply',
    level: 'documented',
    sources: [doc('introduction (payload length limit)'), core('handle_input')],
    async run(t) {
      const conn = await t.dom0();
      conn.sendFrame(lyingHeader(0xffff_ffff));
      if (!(await conn.closesWithin(2000))) {
        throw new CheckFailure('the connection stayed open after a 0xffffffff-byte header');
      }
    },
  },
  'oversize-spares-other-connections': {
    rule: "Dropping a connection for an oversized header leaves other connections' watches alone",
    level: 'documented',
    sources: [doc('introduction (payload length limit)'), core('ignore_connection')],
    async run(t) {
      const bystander = await t.dom0();
      await bystander.watch(t.path('w'), 'tok');
      const offender = await t.dom0();
      offender.sendFrame(lyingHeader(PAYLOAD_MAX + 1));
      await offender.closesWithin(2000);
      await (await t.dom0()).write(t.path('w'), '1');
      await bystander.expectEvents([[t.path('w'), 'tok']]);
    },
  },
  'reply-over-max-e2big': {
    rule: 'A reply that would exceed 4096 bytes is replaced by E2BIG',
    level: 'c-4.17',
    sources: [core('send_reply')],
    async run(t) {
      const conn = await t.dom0();
      // 50 children of 100-character names: 5050 bytes of listing.
      const names = Array.from(
        { length: 50 },
        (_, i) => `${String(i).padStart(2, '0')}${'x'.repeat(98)}`,
      );
      for (const name of names) await conn.write(t.path(name), '');
      await conn.fails({ op: 'DIRECTORY', path: t.base }, 'E2BIG');
      await conn.read(t.base);
    },
  },
  'type-20-enosys': enosys(
    20,
    'Type 20 (the removed XS_RESTRICT) is ENOSYS and the connection goes on',
    'documented',
  ),
  'type-watch-event-enosys': enosys(
    MessageType.WATCH_EVENT,
    'WATCH_EVENT sent to the server is ENOSYS (server-to-client only)',
    'c-4.17',
  ),
  'type-error-enosys': enosys(
    MessageType.ERROR,
    'ERROR sent to the server is ENOSYS (server-to-client only)',
    'c-4.17',
  ),
  'type-23-enosys': enosys(23, 'Type 23 (GET_FEATURE, after 4.17) is ENOSYS in 4.17', 'c-4.17'),
  'type-24-enosys': enosys(24, 'Type 24 (SET_FEATURE, after 4.17) is ENOSYS in 4.17', 'c-4.17'),
  'type-25-enosys': enosys(25, 'Type 25 (GET_QUOTA, after 4.17) is ENOSYS in 4.17', 'c-4.17'),
  'type-26-enosys': enosys(26, 'Type 26 (SET_QUOTA, after 4.17) is ENOSYS in 4.17', 'c-4.17'),
  'type-27-enosys': enosys(27, 'Type 27, beyond every defined type, is ENOSYS', 'c-4.17'),
  'type-invalid-enosys': enosys(
    MessageType.INVALID,
    'Type 0xffff (XS_INVALID) is ENOSYS',
    'c-4.17',
  ),
  'type-huge-enosys': enosys(
    0x8000_0000,
    'Type 0x80000000 (negative as a C int) is ENOSYS',
    'c-4.17',
  ),
  'enosys-echoes-ids': {
    rule: "The ENOSYS reply to an unknown type copies the request's req_id and tx_id",
    level: 'documented',
    sources: [doc('introduction (only req_id and tx_id copied on error)')],
    async run(t) {
      const conn = await t.dom0();
      await echoes(conn, rawMessage(99, `${t.base}\0`, 41, 0), MessageType.ERROR);
    },
  },
  'write-without-nul-einval': {
    rule: 'WRITE whose payload has no nul after the path is EINVAL',
    level: 'c-4.17',
    sources: [doc('WRITE (<path>|<value|>)'), core('do_write')],
    async run(t) {
      const conn = await t.dom0();
      await conn.rawFails(MessageType.WRITE, t.path('a'), 'EINVAL');
      await conn.fails({ op: 'READ', path: t.path('a') }, 'ENOENT');
    },
  },
  'write-empty-payload-einval': {
    rule: 'WRITE with an empty payload is EINVAL',
    level: 'c-4.17',
    sources: [doc('WRITE (<path>|<value|>)'), core('do_write')],
    async run(t) {
      const conn = await t.dom0();
      await conn.rawFails(MessageType.WRITE, '', 'EINVAL');
    },
  },
  ...malformedSinglePath('READ'),
  ...malformedSinglePath('DIRECTORY'),
  ...malformedSinglePath('GET_PERMS'),
  ...malformedSinglePath('MKDIR'),
  ...malformedSinglePath('RM'),
  'transaction-start-payload-ignored': {
    rule: 'TRANSACTION_START ignores its (reserved) payload',
    level: 'c-4.17',
    sources: [
      doc('TRANSACTION_START'),
      'tools/xenstore/xenstored_transaction.c: do_transaction_start()',
    ],
    async run(t) {
      const conn = await t.dom0();
      await conn.rawOk(MessageType.TRANSACTION_START, 'anything\0');
      await conn.rawOk(MessageType.TRANSACTION_START, '');
    },
  },
});
