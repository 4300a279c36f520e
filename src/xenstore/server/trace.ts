import { messageTypeName } from '../messages.ts';
import { toText } from '../payload.ts';
import type { Message } from '../wire.ts';

/**
 * One traced message.
 * @category Server
 */
export interface TraceRecord {
  /** ISO timestamp. */
  readonly time: string;
  /** `in`: a request received; `out`: a reply or event sent. */
  readonly direction: 'in' | 'out';
  /** The connection's server-wide number. */
  readonly conn: number;
  /** The domain the connection speaks for. */
  readonly domid: number;
  /** The type name, or the number when it names no message. */
  readonly type: string | number;
  /** The message's `req_id`. */
  readonly reqId: number;
  /** The message's `tx_id`. */
  readonly txId: number;
  /** The payload as latin1 text (every byte one character; nuls kept). */
  readonly payload: string;
}

/**
 * Where trace records go: a callback, or a writable stream that receives JSON lines.
 * @category Server
 */
export type TraceSink =
  | ((record: TraceRecord) => void)
  | {
      /** Takes each record as one line of JSON. */
      write(chunk: string): unknown;
    };

/** A function recording messages to `sink`. */
export function tracer(
  sink: TraceSink,
): (direction: 'in' | 'out', conn: { id: number; domid: number }, message: Message) => void {
  const emit =
    typeof sink === 'function'
      ? sink
      : (record: TraceRecord) => sink.write(`${JSON.stringify(record)}\n`);
  return (direction, conn, message) => {
    const record: TraceRecord = {
      time: new Date().toISOString(),
      direction,
      conn: conn.id,
      domid: conn.domid,
      type: messageTypeName(message.type) ?? message.type,
      reqId: message.reqId,
      txId: message.txId,
      payload: toText(message.payload),
    };
    try {
      emit(record);
    } catch {
      // A failing trace sink must not take the server down; the record is lost.
    }
  };
}
