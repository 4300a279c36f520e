import { XenstoreError } from '../xenstore/index.ts';
import type { XsSession } from './session.ts';

/**
 * The children of `path`, as libxenstore's `xs_directory` gets them: one DIRECTORY request, and
 * when the list is too big for one reply (E2BIG), DIRECTORY_PART slices, started over if the node
 * changes (its generation) in between.
 */
export async function listDirectory(session: XsSession, path: string, txId = 0): Promise<string[]> {
  try {
    return await session.request({ op: 'DIRECTORY', path }, txId);
  } catch (error) {
    if (!(error instanceof XenstoreError && error.code === 'E2BIG')) throw error;
  }
  for (;;) {
    const children: string[] = [];
    let generation: string | undefined;
    let offset = 0;
    for (;;) {
      const part = await session.request({ op: 'DIRECTORY_PART', path, offset }, txId);
      if (generation !== undefined && part.generation !== generation) break;
      generation = part.generation;
      children.push(...part.children);
      offset += part.length;
      if (part.complete) return children;
    }
  }
}
