import { HEADER_SIZE } from './constants.ts';
import { XenstoreError } from './errors.ts';
import { MESSAGES, MessageType, type RequestName, requestEntry } from './messages.ts';
import type { RequestShape } from './request-shapes.ts';
import { FramedMessage, writeHeader } from './wire.ts';

/**
 * Requests as data, derived from the table of {@link MESSAGES}: `encodeRequest` turns one into
 * wire bytes; `decodeRequest` parses a received message back (what a server does), checking the
 * payload grammar of `docs/misc/xenstore.txt`.
 */

/**
 * The operation names a client may send.
 * @category Codec
 */
export type RequestOp = RequestName;

/**
 * A request of type `Op`: its name, and the fields its row's request shape carries.
 * @category Codec
 */
export type RequestOf<Op extends RequestOp> = {
  /** The request type. */
  readonly op: Op;
} & ((typeof MESSAGES)[Op]['request'] extends RequestShape<infer Fields> ? Fields : never);

/**
 * Every request a client can send.
 * @category Codec
 */
export type Request = { [Op in RequestOp]: RequestOf<Op> }[RequestOp];

/**
 * Header fields chosen by the sender.
 * @category Codec
 */
export interface RequestIds {
  /** `req_id`: echoed by the reply, so the caller can match it. */
  readonly reqId: number;
  /** `tx_id`: the transaction, 0 for none. */
  readonly txId: number;
}

function shapeOf(request: Request): RequestShape<Request> {
  return MESSAGES[request.op].request as RequestShape<Request>;
}

/**
 * Builds the payload of a request.
 * @category Codec
 */
export function encodeRequestPayload(request: Request): Buffer {
  return shapeOf(request).encode(request, 0);
}

/**
 * Builds a whole request message. Its `frame` holds the wire bytes, header included, in one
 * buffer, so that byte transports send it without another copy; its `payload` is a view into it.
 * @category Codec
 */
export function encodeRequest(request: Request, ids: RequestIds): FramedMessage {
  const frame = shapeOf(request).encode(request, HEADER_SIZE);
  const type = MessageType[request.op];
  writeHeader(frame, { type, reqId: ids.reqId, txId: ids.txId, len: frame.length - HEADER_SIZE });
  return new FramedMessage(type, ids.reqId, ids.txId, frame);
}

/**
 * The path a request names, if it names one.
 * @category Codec
 */
export function requestPath(request: Request): string | undefined {
  return 'path' in request ? request.path : undefined;
}

/**
 * Parses a received request. Throws `EINVAL` for a payload that breaks its type's grammar and
 * `ENOSYS` for a type that is not a request (unknown numbers, the removed 20, and the
 * server-to-client WATCH_EVENT and ERROR).
 *
 * Only the grammar is checked here; path validity, permissions and domain existence are the
 * server's business. The grammar is C xenstored's: requests of one string (paths, domids,
 * TRANSACTION_END) must be exactly that string; the others are read as the nul-terminated strings
 * they start with, bytes after the last nul ignored, and need at least as many strings as they
 * use (WATCH, UNWATCH and DIRECTORY_PART exactly as many). Numbers are read with C's `atoi` into
 * 32 bits (see `numbers.ts`): domids and offsets unsigned, the event channel signed.
 * @category Codec
 */
export function decodeRequest(message: {
  readonly type: number;
  readonly payload: Uint8Array;
}): Request {
  const entry = requestEntry(message.type);
  if (!entry) throw new XenstoreError('ENOSYS', `type ${message.type} is not a request`);
  return entry.row.request.decode(message.payload, entry.name) as Request;
}
