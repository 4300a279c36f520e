import { Buffer } from 'node:buffer';
import { HEADER_SIZE, PAYLOAD_MAX } from './constants.ts';
import { XenstoreError } from './errors.ts';

/**
 * The fixed part of every message (`struct xsd_sockmsg`).
 * @category Codec
 */
export interface Header {
  /** A {@link MessageType} number. */
  readonly type: number;
  /** Chosen by the requester and echoed in the reply; 0 in watch events. */
  readonly reqId: number;
  /** The transaction the request belongs to, 0 for none. */
  readonly txId: number;
  /** Payload length in bytes. */
  readonly len: number;
}

/**
 * A whole message: header fields plus the payload bytes.
 * @category Codec
 */
export interface Message {
  /** The message type (see {@link MessageType}). */
  readonly type: number;
  /** `req_id`: chosen by the client, echoed by the reply; 0 in a watch event. */
  readonly reqId: number;
  /** `tx_id`: the transaction, 0 for none. */
  readonly txId: number;
  /** The payload, at most {@link PAYLOAD_MAX} bytes. */
  readonly payload: Uint8Array;
}

/**
 * A message on its way out. `frame`, when present, already holds its wire bytes (header and
 * payload): byte transports write it as is instead of encoding the message again.
 * @category Codec
 */
export interface OutgoingMessage extends Message {
  /** The whole message as wire bytes, when already encoded. */
  readonly frame?: Uint8Array;
}

/**
 * An {@link OutgoingMessage} built as wire bytes: byte transports write `frame` and never look at
 * `payload`, so its view is only made for the message media that ask for it.
 * @category Codec
 */
export class FramedMessage implements OutgoingMessage {
  /**
   * @param type - the message type
   * @param reqId - `req_id`
   * @param txId - `tx_id`, 0 for none
   * @param frame - the header and the payload, as sent
   */
  constructor(
    /** The message type (see {@link MessageType}). */
    readonly type: number,
    /** `req_id`: chosen by the client, echoed by the reply. */
    readonly reqId: number,
    /** `tx_id`: the transaction, 0 for none. */
    readonly txId: number,
    /** The whole message as wire bytes. */
    readonly frame: Uint8Array,
  ) {}

  /** The payload: a view of `frame` after the header. */
  get payload(): Uint8Array {
    return this.frame.subarray(HEADER_SIZE);
  }

  /** The payload's length, without making its view. */
  get payloadLength(): number {
    return this.frame.length - HEADER_SIZE;
  }
}

/**
 * Reads a header from the first 16 bytes at `offset` (little-endian, as every Xen platform sends
 * it). This is where every received length is checked: a header announcing more than
 * {@link PAYLOAD_MAX} payload bytes is a protocol error (`EPROTO`), after which a stream can no
 * longer be trusted to be in step.
 * @category Codec
 */
export function decodeHeader(bytes: Uint8Array, offset = 0): Header {
  if (bytes.length - offset < HEADER_SIZE) {
    throw new XenstoreError('EPROTO', `header needs ${HEADER_SIZE} bytes`);
  }
  const len = readU32(bytes, offset + 12);
  if (len > PAYLOAD_MAX) {
    throw new XenstoreError(
      'EPROTO',
      `header announces ${len} payload bytes, more than ${PAYLOAD_MAX}`,
    );
  }
  return {
    type: readU32(bytes, offset),
    reqId: readU32(bytes, offset + 4),
    txId: readU32(bytes, offset + 8),
    len,
  };
}

/**
 * Writes a header into `target` at `offset`.
 * @category Codec
 */
export function writeHeader(target: Uint8Array, header: Header, offset = 0): void {
  writeU32(target, offset, header.type);
  writeU32(target, offset + 4, header.reqId);
  writeU32(target, offset + 8, header.txId);
  writeU32(target, offset + 12, header.len);
}

// Byte arithmetic rather than a DataView per message: headers are on every hot path.
/** The little-endian 32-bit word at `at` (a header field). */
export function readU32(bytes: Uint8Array, at: number): number {
  return (
    (bytes[at]! | (bytes[at + 1]! << 8) | (bytes[at + 2]! << 16) | (bytes[at + 3]! << 24)) >>> 0
  );
}

function writeU32(bytes: Uint8Array, at: number, value: number): void {
  bytes[at] = value;
  bytes[at + 1] = value >>> 8;
  bytes[at + 2] = value >>> 16;
  bytes[at + 3] = value >>> 24;
}

/**
 * Encodes a message as header + payload. Refuses payloads over {@link PAYLOAD_MAX}: a server kills
 * the connection of a client that sends one, so it must never leave this process.
 * @category Codec
 */
export function encodeMessage(message: Message): Buffer {
  const len = message.payload.length;
  if (len > PAYLOAD_MAX) {
    throw new XenstoreError('E2BIG', `payload of ${len} bytes exceeds ${PAYLOAD_MAX}`);
  }
  const out = Buffer.allocUnsafe(HEADER_SIZE + len);
  writeU32(out, 0, message.type);
  writeU32(out, 4, message.reqId);
  writeU32(out, 8, message.txId);
  writeU32(out, 12, len);
  out.set(message.payload, HEADER_SIZE);
  return out;
}

/**
 * Decodes exactly one whole message; the byte count must match the header's `len`.
 * @category Codec
 */
export function decodeMessage(bytes: Uint8Array): Message {
  const header = decodeHeader(bytes);
  if (bytes.length !== HEADER_SIZE + header.len) {
    throw new XenstoreError(
      'EPROTO',
      `message of ${bytes.length} bytes, header announces ${HEADER_SIZE + header.len}`,
    );
  }
  return {
    type: header.type,
    reqId: header.reqId,
    txId: header.txId,
    payload: bytes.subarray(HEADER_SIZE),
  };
}
