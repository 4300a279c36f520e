import { PAYLOAD_MAX } from '../constants.ts';
import { XenstoreError } from '../errors.ts';
import { listPayload } from '../replies.ts';

/*
 * Child lists go out by name, not by first serialising the whole list: a node with 100,000
 * children is listed in hundreds of DIRECTORY_PART slices, and each must cost what it sends.
 * Names are ASCII (the path charset), so a name's length is its byte count.
 */

/** DIRECTORY's reply: every name nul-terminated; E2BIG when that exceeds a payload. */
export function childListPayload(names: readonly string[]): Uint8Array {
  let size = 0;
  for (const name of names) {
    size += name.length + 1;
    if (size > PAYLOAD_MAX) throw new XenstoreError('E2BIG', 'child list too long for one reply');
  }
  return listPayload(names);
}

/**
 * DIRECTORY_PART's reply as C 4.17 builds it: the generation, then child list bytes from byte
 * `offset` (which may fall inside a name) as long as each next name fits one byte under the
 * payload limit, plus an extra nul when the slice reaches the end of the list.
 */
export function childListSlice(
  generation: string,
  names: readonly string[],
  offset: number,
): Buffer {
  const head = generation.length + 1;
  const maxlen = PAYLOAD_MAX - head - 1;
  let index = 0;
  let start = 0;
  while (index < names.length && start + names[index]!.length + 1 <= offset) {
    start += names[index]!.length + 1;
    index++;
  }
  const parts: string[] = [generation];
  if (index === names.length) {
    parts.push('', '');
    return Buffer.from(parts.join('\0'), 'latin1');
  }
  let len = 0;
  let first = names[index]!.slice(offset - start);
  let complete = false;
  for (;;) {
    if (len + first.length >= maxlen) break;
    parts.push(first);
    len += first.length + 1;
    index++;
    if (index === names.length) {
      complete = true;
      break;
    }
    first = names[index]!;
  }
  // Each name is followed by its nul; a complete list gets one more.
  const text = `${parts.join('\0')}\0${complete ? '\0' : ''}`;
  return Buffer.from(text, 'latin1');
}
