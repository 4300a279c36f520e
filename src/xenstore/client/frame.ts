import { HEADER_SIZE, MessageType } from '../constants.ts';
import { encodeRequestPayload, type Request } from '../requests.ts';
import type { OutgoingMessage } from '../transport/transport.ts';

/**
 * Builds a request's wire bytes in one buffer, header included, so that byte transports send
 * them without another copy. READ, WRITE and the other one-path requests, which make up nearly
 * all traffic, are written straight into the buffer (`path\0`, then WRITE's value); the rest take
 * the codec's {@link encodeRequestPayload}. Either way the bytes are the codec's.
 */
export function frameRequest(request: Request, reqId: number, txId: number): OutgoingMessage {
  let frame: Buffer;
  switch (request.op) {
    case 'READ':
    case 'WRITE':
    case 'MKDIR':
    case 'RM':
    case 'DIRECTORY':
    case 'GET_PERMS': {
      const pathLength = Buffer.byteLength(request.path);
      const value = request.op === 'WRITE' ? request.value : undefined;
      const length = pathLength + 1 + (value?.length ?? 0);
      frame = Buffer.allocUnsafe(HEADER_SIZE + length);
      frame.write(request.path, HEADER_SIZE, 'utf8');
      frame[HEADER_SIZE + pathLength] = 0;
      if (value) frame.set(value, HEADER_SIZE + pathLength + 1);
      break;
    }
    default: {
      const payload = encodeRequestPayload(request);
      frame = Buffer.allocUnsafe(HEADER_SIZE + payload.length);
      frame.set(payload, HEADER_SIZE);
    }
  }
  const type = MessageType[request.op];
  const length = frame.length - HEADER_SIZE;
  frame.writeUInt32LE(type, 0);
  frame.writeUInt32LE(reqId, 4);
  frame.writeUInt32LE(txId, 8);
  frame.writeUInt32LE(length, 12);
  return { type, reqId, txId, payload: frame.subarray(HEADER_SIZE), frame };
}
