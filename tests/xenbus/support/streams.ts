import { createHash, randomBytes } from 'node:crypto';
import type { Duplex, Writable } from 'node:stream';

/** What one side sent or received: byte count and SHA-256. */
export interface Digest {
  readonly bytes: number;
  readonly sha256: string;
}

const CHUNK = 64 * 1024;

/**
 * Writes `total` random bytes in 64 KiB pieces, waiting for 'drain' whenever `write` says so,
 * then ends (unless `end` is false). Stops early once `stop()` says so.
 */
export async function sendRandom(
  stream: Writable,
  total: number,
  options: { end?: boolean; onProgress?: (sent: number) => void } = {},
): Promise<Digest> {
  const hash = createHash('sha256');
  let sent = 0;
  while (sent < total && !stream.destroyed) {
    const piece = randomBytes(Math.min(CHUNK, total - sent));
    hash.update(piece);
    sent += piece.length;
    const more = stream.write(piece);
    options.onProgress?.(sent);
    if (!more) await drainOrClose(stream);
  }
  if (options.end !== false) stream.end();
  return { bytes: sent, sha256: hash.digest('hex') };
}

function drainOrClose(stream: Writable): Promise<void> {
  return new Promise((resolve) => {
    const done = (): void => {
      stream.off('drain', done);
      stream.off('close', done);
      resolve();
    };
    stream.on('drain', done);
    stream.on('close', done);
  });
}

/** Reads the stream to its end, hashing it; the writable side is left alone. */
export async function receiveAll(
  stream: Duplex,
  onProgress?: (received: number) => void,
): Promise<Digest> {
  const hash = createHash('sha256');
  let bytes = 0;
  // A plain `for await` destroys the whole Duplex when its readable side ends, cutting off
  // writes still in progress.
  for await (const chunk of stream.iterator({ destroyOnReturn: false }) as AsyncIterable<Buffer>) {
    hash.update(chunk);
    bytes += chunk.length;
    onProgress?.(bytes);
  }
  return { bytes, sha256: hash.digest('hex') };
}
