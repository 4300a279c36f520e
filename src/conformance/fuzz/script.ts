import { MessageType } from '../../xenstore/messages.ts';
import { joinByteStrings } from '../../xenstore/payload.ts';
import { encodeRequestPayload, type Request } from '../../xenstore/requests.ts';
import type { Message } from '../../xenstore/wire.ts';

/**
 * A differential test script: requests on numbered connections, applied in order to two
 * servers. Everything in it is plain JSON so that a failing script prints as a replayable case.
 * Strings are latin1: each character is one byte on the wire, so a script can send bytes that
 * are not UTF-8.
 */

/** Which transaction id a request carries, resolved per server from its own replies. */
export type TxRef =
  /** 0: no transaction. */
  | 'none'
  /**
   * The n-th transaction this connection started (0-based, modulo how many it started); no
   * transaction while it has started none.
   */
  | { started: number }
  /** An id no transaction has. */
  | 'bogus';

export type Step =
  | { conn: number; tx: TxRef; request: ScriptRequest }
  /** A header type and payload sent as is (unsupported types, malformed payloads). */
  | { conn: number; tx: TxRef; raw: { type: number; payload: string } }
  /** A header announcing more than 4096 payload bytes: the server drops the connection. */
  | { conn: number; oversize: true };

/** A number field: a number, or the text sent in its place (servers read it as C's atoi does). */
export type NumberText = number | string;

type WithNumberText =
  | 'WRITE'
  | 'INTRODUCE'
  | 'DIRECTORY_PART'
  | 'RELEASE'
  | 'RESUME'
  | 'IS_DOMAIN_INTRODUCED'
  | 'GET_DOMAIN_PATH'
  | 'SET_TARGET';

/**
 * A {@link Request} in JSON form: WRITE values as latin1 text (they may hold nuls), number fields
 * as numbers or text, and INTRODUCE without a gfn (any value works; the servers ignore it).
 */
export type ScriptRequest =
  | Exclude<Request, { op: WithNumberText }>
  | { op: 'WRITE'; path: string; value: string }
  | { op: 'INTRODUCE'; domid: NumberText; port: NumberText }
  | { op: 'DIRECTORY_PART'; path: string; offset: NumberText }
  | {
      op: 'RELEASE' | 'RESUME' | 'IS_DOMAIN_INTRODUCED' | 'GET_DOMAIN_PATH';
      domid: NumberText;
    }
  | { op: 'SET_TARGET'; domid: NumberText; target: NumberText };

export type Script = Step[];

/** Number of dom0 connections every script may use; guest connections come after them. */
export const CONNECTIONS = 3;

/** The bogus transaction id ('bogus' refs); no server hands out ids this large in a test. */
export const BOGUS_TX_ID = 0x7fff_0000;

/** The payload bytes of a script request. */
export function requestPayload(request: ScriptRequest): Uint8Array {
  switch (request.op) {
    case 'WRITE':
      return Buffer.concat([joinByteStrings([request.path]), Buffer.from(request.value, 'latin1')]);
    case 'WATCH':
    case 'UNWATCH':
      return request.op === 'WATCH' && request.depth !== undefined
        ? joinByteStrings([request.path, request.token, String(request.depth)])
        : joinByteStrings([request.path, request.token]);
    case 'INTRODUCE':
      return joinByteStrings([String(request.domid), '0', String(request.port)]);
    case 'DIRECTORY_PART':
      return joinByteStrings([request.path, String(request.offset)]);
    case 'RELEASE':
    case 'RESUME':
    case 'IS_DOMAIN_INTRODUCED':
    case 'GET_DOMAIN_PATH':
      return joinByteStrings([String(request.domid)]);
    case 'SET_TARGET':
      return joinByteStrings([String(request.domid), String(request.target)]);
    default:
      return encodeRequestPayload(request);
  }
}

/** The header type of a step's message. */
export function stepType(step: Exclude<Step, { oversize: true }>): number {
  return 'raw' in step ? step.raw.type : MessageType[step.request.op];
}

/** The payload of a step's message as latin1 text. */
export function stepPayloadText(step: Exclude<Step, { oversize: true }>): string {
  if ('raw' in step) return step.raw.payload;
  return Buffer.from(requestPayload(step.request)).toString('latin1');
}

/** The message of a request step, with the transaction id `txId`. */
export function stepMessage(
  step: Exclude<Step, { oversize: true }>,
  reqId: number,
  txId: number,
): Message {
  const payload =
    'raw' in step ? Buffer.from(step.raw.payload, 'latin1') : requestPayload(step.request);
  return { type: stepType(step), reqId, txId, payload };
}

/** A failing script as a vitest case to paste into a test file. */
export function formatReplay(script: Script, guest: boolean): string {
  const kinds = guest ? ', GUEST_CONNECTIONS' : '';
  return [
    "it('replays a differential failure', async () => {",
    `  await expectSameBehaviour(real, mock, ${JSON.stringify(script)}${kinds});`,
    '});',
  ].join('\n');
}
