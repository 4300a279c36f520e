import { Buffer } from 'node:buffer';
import type { ByteRingEnd } from '../../ring/ring-end.ts';

/**
 * Takes up to `limit` bytes waiting in `ring` (everything waiting by default) as a fresh chunk for
 * a `MessageFramer`, whose payloads are views into it; empty when nothing waits. The chunk
 * is a Buffer from Node's pool: a small Uint8Array of its own lives in V8's heap, and the first
 * Buffer view of a payload in it (every READ reply, every request's path) would move it out with
 * a malloc of its own.
 */
export function takeChunk(ring: ByteRingEnd, limit = Number.POSITIVE_INFINITY): Buffer {
  const size = Math.min(limit, ring.readable());
  if (size === 0) return NOTHING;
  const chunk = Buffer.allocUnsafe(size);
  ring.read(chunk);
  return chunk;
}

/** What an empty ring gives: asked for after every chunk, so not made anew each time. */
const NOTHING = Buffer.alloc(0);
