import { MessageType } from '../../src/xenstore/messages.ts';
import type { Message } from '../../src/xenstore/wire.ts';

/** A request whose payload is `parts`, each nul-terminated, as raw tests write them. */
export function stringRequest(type: number, parts: readonly string[], txId = 0): Message {
  return {
    type,
    reqId: 7,
    txId,
    payload: Buffer.from(parts.map((p) => `${p}\0`).join(''), 'latin1'),
  };
}

/** A reply's payload as latin1 text, `ERR ` in front of an error. */
export function renderRaw(m: Message): string {
  return `${m.type === MessageType.ERROR ? 'ERR ' : ''}${Buffer.from(m.payload).toString('latin1')}`;
}
