import { describe, expect, it } from 'vitest';
import {
  MESSAGES,
  MessageType,
  messageTypeName,
  REMOVED_RESTRICT_TYPE,
  requestEntry,
  TYPE_COUNT,
} from '../../src/xenstore/messages.ts';

describe('the table of message types', () => {
  it('numbers the types as xs_wire.h does, each number once', () => {
    const numbers = Object.values(MessageType);
    expect(new Set(numbers).size).toBe(numbers.length);
    expect(TYPE_COUNT).toBe(27); // XS_TYPE_COUNT of Xen 4.17
    for (let type = 0; type < TYPE_COUNT; type++) {
      const name = messageTypeName(type);
      if (type === REMOVED_RESTRICT_TYPE) expect(name).toBeUndefined();
      else expect(name && MessageType[name]).toBe(type);
    }
    expect(messageTypeName(TYPE_COUNT)).toBeUndefined();
  });

  it('finds each request row by its number, and no row for server-to-client types', () => {
    for (const [name, row] of Object.entries(MESSAGES)) {
      expect(requestEntry(row.type)).toEqual({ name, row });
    }
    expect(requestEntry(MessageType.WATCH_EVENT)).toBeUndefined();
    expect(requestEntry(MessageType.ERROR)).toBeUndefined();
    expect(requestEntry(REMOVED_RESTRICT_TYPE)).toBeUndefined();
  });
});
