import { XenstoreError } from '../errors.ts';
import type { DirectoryPart } from '../reply-shapes.ts';
import type { Exchange, RequestOptions } from './node-operations.ts';

/** Restarts allowed when the node keeps changing between slices, before giving up with EAGAIN. */
const MAX_RESTARTS = 16;

/**
 * Lists `path`'s children: one DIRECTORY, and on E2BIG the DIRECTORY_PART slices. The slices
 * must all carry the generation of the first; a different one means the node changed, so the
 * listing starts over (libxenstore loops for ever here; this gives up after a while).
 */
export function listDirectory(
  exchange: Exchange,
  path: string,
  options: RequestOptions | undefined,
): Promise<string[]> {
  // A plain `catch` rather than an async function: a listing that fits takes no extra hop.
  return exchange({ op: 'DIRECTORY', path }, options).catch((error: unknown) => {
    if (!(error instanceof XenstoreError) || error.code !== 'E2BIG') throw error;
    return listInRestarts(exchange, path, options);
  });
}

/** Lists in DIRECTORY_PART slices, starting over while the node changes between them. */
async function listInRestarts(
  exchange: Exchange,
  path: string,
  options: RequestOptions | undefined,
): Promise<string[]> {
  for (let attempt = 0; attempt <= MAX_RESTARTS; attempt++) {
    const children = await listInParts(exchange, path, options);
    if (children) return children;
  }
  throw new XenstoreError('EAGAIN', 'node kept changing while listed', 'DIRECTORY_PART', path);
}

/** One pass over the slices; `undefined` when the generation changed midway. */
async function listInParts(
  exchange: Exchange,
  path: string,
  options: RequestOptions | undefined,
): Promise<string[] | undefined> {
  const children: string[] = [];
  let generation: string | undefined;
  let offset = 0;
  for (;;) {
    let part: DirectoryPart;
    try {
      part = await exchange({ op: 'DIRECTORY_PART', path, offset }, options);
    } catch (error) {
      if (error instanceof XenstoreError && error.code === 'ENOSYS') {
        throw new XenstoreError('E2BIG', undefined, 'DIRECTORY', path, { cause: error });
      }
      throw error;
    }
    if (generation === undefined) generation = part.generation;
    else if (part.generation !== generation) return undefined;
    children.push(...part.children);
    if (part.complete) return children;
    if (part.length === 0) {
      throw new XenstoreError('EPROTO', 'DIRECTORY_PART made no progress', 'DIRECTORY_PART', path);
    }
    offset += part.length;
  }
}
