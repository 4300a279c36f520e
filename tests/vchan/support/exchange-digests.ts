import type { Duplex } from 'node:stream';
import { type Digest, receive, sendRandom } from '../../xen/vchan/transfer.ts';

/**
 * libxenvchan's way to exchange `total` bytes each way: send while receiving, and close only
 * once everything has arrived, since a close ends both directions.
 */
export async function exchangeRandom(
  stream: Duplex,
  total: number,
): Promise<{ sent: Digest; received: Digest }> {
  const [sent, received] = await Promise.all([sendRandom(stream, total), receive(stream, total)]);
  stream.end();
  // Let the readable side reach its end too, so that the stream closes.
  stream.resume();
  return { sent, received: { bytes: received.bytes, sha256: received.sha256 } };
}
