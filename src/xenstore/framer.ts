import { Buffer } from 'node:buffer';
import { HEADER_SIZE, PAYLOAD_MAX } from './constants.ts';
import type { XenstoreError } from './errors.ts';
import { decodeHeader, type Header, type Message, readU32 } from './wire.ts';

const NO_PAYLOAD: Uint8Array = Buffer.alloc(0);

/**
 * Turns a byte stream into whole messages, whatever the chunking: one byte at a time or many
 * messages per chunk. Both ends of every byte medium use it, and each header is decoded once,
 * here. A header announcing more than 4096 payload bytes is a protocol error (`EPROTO`, from
 * {@link decodeHeader}) raised before anything of that size is allocated; after it the framer
 * refuses more input, since the stream can no longer be trusted to be in step.
 *
 * Payloads of messages whole within one chunk are views into it, not copies: hand in chunks
 * nobody will overwrite. A reader that must not take more than one message at a time (a ring
 * server, which stops reading a guest that does not read its replies) pushes at most
 * {@link wanted} bytes per call.
 * @category Codec
 */
export class MessageFramer {
  /** The header of the message being received, once it is whole. */
  #header: Header | undefined;
  /**
   * A header still in pieces, and how much of it has arrived. Made when a header first comes in
   * pieces: most streams never cut one, and every connection of a server has a framer.
   */
  #headerBytes: Uint8Array | undefined;
  #headerFill = 0;
  /** The payload of the message being received, and how much of it has arrived. */
  #payload: Uint8Array = NO_PAYLOAD;
  #payloadFill = 0;
  #failed: XenstoreError | undefined;

  /** Bytes received but not yet part of a whole message. */
  get buffered(): number {
    return this.#header ? HEADER_SIZE + this.#payloadFill : this.#headerFill;
  }

  /** Bytes still missing from the header, or else from the payload, being received. */
  get wanted(): number {
    return this.#header ? this.#header.len - this.#payloadFill : HEADER_SIZE - this.#headerFill;
  }

  /** The header of the message being received, once whole; `undefined` between messages. */
  get header(): Header | undefined {
    return this.#header;
  }

  /** Feeds bytes in; returns the messages they complete, in order. */
  push(chunk: Uint8Array): Message[] {
    if (this.#failed) throw this.#failed;
    const out: Message[] = [];
    let at = this.buffered > 0 ? this.#continue(chunk, out) : 0;
    // Messages whole within the chunk are taken straight from it.
    while (at < chunk.length) {
      if (chunk.length - at < HEADER_SIZE) {
        this.#continue(chunk.subarray(at), out);
        break;
      }
      // The fields are read straight into the message: no header object for a whole one.
      const len = readU32(chunk, at + 12);
      // Decoded only to throw: the header's own check names the framing error.
      if (len > PAYLOAD_MAX) this.#decode(chunk, at);
      const end = at + HEADER_SIZE + len;
      if (end > chunk.length) {
        this.#start(this.#decode(chunk, at));
        this.#continue(chunk.subarray(at + HEADER_SIZE), out);
        break;
      }
      out.push({
        type: readU32(chunk, at),
        reqId: readU32(chunk, at + 4),
        txId: readU32(chunk, at + 8),
        payload: chunk.subarray(at + HEADER_SIZE, end),
      });
      at = end;
    }
    return out;
  }

  /** Carries the message being received on with `chunk`; returns the bytes it took. */
  #continue(chunk: Uint8Array, out: Message[]): number {
    let at = 0;
    if (!this.#header) {
      at = Math.min(HEADER_SIZE - this.#headerFill, chunk.length);
      this.#headerBytes ??= new Uint8Array(HEADER_SIZE);
      this.#headerBytes.set(chunk.subarray(0, at), this.#headerFill);
      this.#headerFill += at;
      if (this.#headerFill < HEADER_SIZE) return at;
      this.#start(this.#decode(this.#headerBytes, 0));
    }
    const header = this.#header!;
    const take = Math.min(header.len - this.#payloadFill, chunk.length - at);
    this.#payload.set(chunk.subarray(at, at + take), this.#payloadFill);
    this.#payloadFill += take;
    if (this.#payloadFill === header.len) {
      out.push({
        type: header.type,
        reqId: header.reqId,
        txId: header.txId,
        payload: this.#payload,
      });
      this.#header = undefined;
      this.#headerFill = 0;
      this.#payload = NO_PAYLOAD;
      this.#payloadFill = 0;
    }
    return at + take;
  }

  /** A message whose payload is still to come. */
  #start(header: Header): void {
    this.#header = header;
    this.#payload = header.len === 0 ? NO_PAYLOAD : Buffer.allocUnsafe(header.len);
  }

  #decode(bytes: Uint8Array, at: number): Header {
    try {
      return decodeHeader(bytes, at);
    } catch (error) {
      this.#failed = error as XenstoreError;
      throw error;
    }
  }
}
