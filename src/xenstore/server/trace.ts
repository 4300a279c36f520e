import type { FaultRecord } from '../faults/injector.ts';
import { messageTypeName } from '../messages.ts';
import { toText } from '../payload.ts';
import type { Message } from '../wire.ts';

/**
 * One traced message, or one fault injected into a connection.
 * @category Server
 */
export interface TraceRecord {
  /** ISO timestamp. */
  readonly time: string;
  /**
   * `in`: a request received; `out`: a reply or event sent; `fault`: a fault of
   * `ServerOptions.faults` applied to the message named (see `fault`).
   */
  readonly direction: 'in' | 'out' | 'fault';
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
  /** The payload as latin1 text (every byte one character; nuls kept); empty for a fault. */
  readonly payload: string;
  /** What the fault was, for a `fault` record. */
  readonly fault?: FaultRecord;
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

/** Who a record is about. */
type TracedConnection = { readonly id: number; readonly domid: number };

/** Records messages and faults to `sink`. */
export function tracer(sink: TraceSink) {
  const emit =
    typeof sink === 'function'
      ? sink
      : (record: TraceRecord) => sink.write(`${JSON.stringify(record)}\n`);
  const safely = (record: TraceRecord) => {
    try {
      emit(record);
    } catch {
      // A failing trace sink must not take the server down; the record is lost.
    }
  };
  return {
    message(direction: 'in' | 'out', conn: TracedConnection, message: Message): void {
      safely({
        time: new Date().toISOString(),
        direction,
        conn: conn.id,
        domid: conn.domid,
        type: messageTypeName(message.type) ?? message.type,
        reqId: message.reqId,
        txId: message.txId,
        payload: toText(message.payload),
      });
    },
    fault(conn: TracedConnection, fault: FaultRecord): void {
      safely({
        time: new Date().toISOString(),
        direction: 'fault',
        conn: conn.id,
        domid: conn.domid,
        type: fault.type,
        reqId: fault.reqId,
        txId: fault.txId,
        payload: '',
        fault,
      });
    },
  };
}
