import { MessageType } from '../../src/xenstore/messages.ts';
import { encodeRequestPayload, type Request } from '../../src/xenstore/requests.ts';
import type { Message } from '../../src/xenstore/wire.ts';

/**
 * A differential test script: requests on numbered connections, applied in order to two
 * servers. Everything in it is plain JSON so that a failing script prints as a replayable case.
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

/**
 * A {@link Request} in JSON form: WRITE values as latin1 text (they may hold nuls), and INTRODUCE
 * without a gfn (any value works; the servers ignore it).
 */
export type ScriptRequest =
  | Exclude<Request, { op: 'WRITE' } | { op: 'INTRODUCE' }>
  | { op: 'WRITE'; path: string; value: string }
  | { op: 'INTRODUCE'; domid: number; port: number };

export type Script = Step[];

/** Number of connections every script may use. */
export const CONNECTIONS = 3;

/** The bogus transaction id ('bogus' refs); no server hands out ids this large in a test. */
export const BOGUS_TX_ID = 0x7fff_0000;

/** The payload bytes of a script request. */
export function requestPayload(request: ScriptRequest): Uint8Array {
  if (request.op === 'WRITE') {
    return encodeRequestPayload({ ...request, value: Buffer.from(request.value, 'latin1') });
  }
  if (request.op === 'INTRODUCE') return encodeRequestPayload({ ...request, gfn: 0 });
  return encodeRequestPayload(request);
}

/** The message of a request step, with the transaction id `txId`. */
export function stepMessage(
  step: Exclude<Step, { oversize: true }>,
  reqId: number,
  txId: number,
): Message {
  if ('raw' in step) {
    return { type: step.raw.type, reqId, txId, payload: Buffer.from(step.raw.payload, 'latin1') };
  }
  return { type: MessageType[step.request.op], reqId, txId, payload: requestPayload(step.request) };
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
