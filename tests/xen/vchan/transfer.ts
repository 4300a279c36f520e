/**
 * One side of a lane transfer: random bytes out while the peer's come in, each direction timed at
 * its receiver from the first byte to the last, so that set-up costs are left out and the same
 * clock measures a xenwire end and a C one.
 */
import { createHash } from 'node:crypto';
import type { Readable, Writable } from 'node:stream';
import { type Digest, sendRandom as sendAndEnd } from '../../xenbus/support/streams.ts';

export type { Digest };

/** Writes `total` random bytes, waiting for 'drain' as told; leaves the stream open. */
export function sendRandom(out: Writable, total: number): Promise<Digest> {
  return sendAndEnd(out, total, { end: false });
}

/** What arrived, and how long from its first byte to its last. */
export interface Received extends Digest {
  readonly seconds: number;
}

/** Reads until `total` bytes have arrived; fails if the stream ends or breaks first. */
export function receive(input: Readable, total: number): Promise<Received> {
  const hash = createHash('sha256');
  let bytes = 0;
  let first = 0;
  return new Promise((resolve, reject) => {
    const stop = (): void => {
      input.off('data', onData);
      input.off('end', onEnd);
      input.off('error', reject);
    };
    const onData = (chunk: Buffer): void => {
      if (bytes === 0) first = performance.now();
      hash.update(chunk);
      bytes += chunk.length;
      if (bytes < total) return;
      stop();
      const seconds = (performance.now() - first) / 1000;
      resolve({ bytes, sha256: hash.digest('hex'), seconds });
    };
    const onEnd = (): void => {
      stop();
      reject(new Error(`the stream ended after ${bytes} of ${total} bytes`));
    };
    input.on('data', onData);
    input.once('end', onEnd);
    input.once('error', reject);
  });
}
