import { createHash } from 'node:crypto';
import type { Duplex } from 'node:stream';
import { type Digest, sendRandom } from '../../xenbus/support/streams.ts';

/** Reads until `total` bytes have arrived (or the stream ends), hashing them. */
export function receiveBytes(stream: Duplex, total: number): Promise<Digest> {
  const hash = createHash('sha256');
  let bytes = 0;
  return new Promise((resolve, reject) => {
    const finish = (): void => {
      stream.off('data', onData);
      stream.off('end', finish);
      stream.off('error', reject);
      stream.pause();
      resolve({ bytes, sha256: hash.digest('hex') });
    };
    const onData = (chunk: Buffer): void => {
      hash.update(chunk);
      bytes += chunk.length;
      if (bytes >= total) finish();
    };
    stream.on('data', onData);
    stream.once('end', finish);
    stream.once('error', reject);
    if (total === 0) finish();
  });
}

/**
 * libxenvchan's way to exchange `total` bytes each way: send while receiving, and close only
 * once everything has arrived, since a close ends both directions.
 */
export async function exchangeRandom(
  stream: Duplex,
  total: number,
): Promise<{ sent: Digest; received: Digest }> {
  const [sent, received] = await Promise.all([
    sendRandom(stream, total, { end: false }),
    receiveBytes(stream, total),
  ]);
  stream.end();
  // Let the readable side reach its end too, so that the stream closes.
  stream.resume();
  return { sent, received };
}
