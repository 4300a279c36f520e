import { HEADER_SIZE, PAYLOAD_MAX } from './constants.ts';
import { XenstoreError } from './errors.ts';
import { decodeHeader, type Message } from './wire.ts';

/**
 * Turns a byte stream into whole messages, whatever the chunking: one byte at a time or many
 * messages per chunk. A header announcing more than {@link PAYLOAD_MAX} bytes is a protocol error
 * (`EPROTO`) raised before anything of that size is allocated; after it the framer refuses more
 * input, since the stream can no longer be trusted to be in step.
 *
 * Payloads are views into the pushed chunks, not copies: hand in chunks nobody will overwrite.
 */
export class MessageFramer {
  #chunks: Uint8Array[] = [];
  #buffered = 0;
  #failed: XenstoreError | undefined;
  readonly #maxPayload: number;

  constructor(options: { readonly maxPayload?: number } = {}) {
    this.#maxPayload = options.maxPayload ?? PAYLOAD_MAX;
  }

  /** Bytes received but not yet part of a whole message. */
  get buffered(): number {
    return this.#buffered;
  }

  /** Feeds bytes in; returns the messages they complete, in order. */
  push(chunk: Uint8Array): Message[] {
    if (this.#failed) throw this.#failed;
    const out: Message[] = [];
    let data = chunk;
    if (this.#buffered > 0) {
      this.#chunks.push(chunk);
      data = Buffer.concat(this.#chunks, this.#buffered + chunk.length);
      this.#chunks = [];
      this.#buffered = 0;
    }
    let at = 0;
    while (data.length - at >= HEADER_SIZE) {
      const header = decodeHeader(data, at);
      if (header.len > this.#maxPayload) {
        this.#failed = new XenstoreError(
          'EPROTO',
          `header announces ${header.len} payload bytes, more than ${this.#maxPayload}`,
        );
        throw this.#failed;
      }
      const end = at + HEADER_SIZE + header.len;
      if (end > data.length) break;
      out.push({
        type: header.type,
        reqId: header.reqId,
        txId: header.txId,
        payload: data.subarray(at + HEADER_SIZE, end),
      });
      at = end;
    }
    if (at < data.length) {
      this.#chunks.push(data.subarray(at));
      this.#buffered = data.length - at;
    }
    return out;
  }
}
