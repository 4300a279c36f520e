import { PAYLOAD_MAX } from '../constants.ts';
import { XenstoreError } from '../errors.ts';

/*
 * A node's child names in C xenstored's layout: each name followed by a nul, in creation order.
 * Names are ASCII (the path charset), so a name's length is its byte count. Lists go out as these
 * bytes, not by first serialising names: a node with 100,000 children is listed in hundreds of
 * DIRECTORY_PART slices, and each must cost what it sends.
 */

/**
 * Where a list not yet copied out of the global store reads its bytes: the store checks that node
 * `id` still holds the version the list was taken from.
 */
export interface ChildSource {
  /** Node `id`'s child bytes, valid until the store next changes; throws if `id` has changed. */
  childBytes(id: number, generation: number): Uint8Array;
}

const INITIAL_CAPACITY = 16;
/**
 * The bytes of a list with no room of its own: a list read from the store and the shared empty
 * one take no buffer until a name is appended (every node read from the store has a list).
 */
const NO_ROOM = new Uint8Array(0);

/**
 * The child names of one node. A list read from the global store keeps reading the store's bytes
 * (names added since are held aside, so that writing the node back only appends them); any other
 * change, or a copy, takes the bytes into the list's own buffer.
 */
export class ChildList {
  #source: ChildSource | undefined;
  #id = 0;
  #generation = 0;
  /** Bytes in the source (while there is one). */
  #sourceLength = 0;
  /** Without a source, the whole list; with one, the names added since. */
  #bytes: Uint8Array;
  #length = 0;
  readonly #frozen: boolean;

  private constructor(capacity: number, frozen = false) {
    this.#bytes = capacity === 0 ? NO_ROOM : new Uint8Array(capacity);
    this.#frozen = frozen;
  }

  /** A list of `names`, in order. */
  static of(names: readonly string[]): ChildList {
    const list = new ChildList(INITIAL_CAPACITY);
    for (const name of names) list.append(name);
    return list;
  }

  /** The global store's list of node `id` as of `generation`, `length` bytes. */
  static stored(source: ChildSource, id: number, generation: number, length: number): ChildList {
    const list = new ChildList(0);
    list.#source = source;
    list.#id = id;
    list.#generation = generation;
    list.#sourceLength = length;
    return list;
  }

  /** The shared list of every childless node; it refuses changes (see `addChild`). */
  static frozenEmpty(): ChildList {
    return new ChildList(0, true);
  }

  /** Bytes of the list in C's layout: every name plus its nul. */
  get byteLength(): number {
    return this.#sourceLength + this.#length;
  }

  /**
   * When this list reads node `id` of `source` as of `generation`: the bytes added since (to be
   * appended to the stored ones). Otherwise undefined, and the store must write the whole list.
   */
  addedTo(source: ChildSource, id: number, generation: number): Uint8Array | undefined {
    if (this.#source !== source || this.#id !== id || this.#generation !== generation) {
      return undefined;
    }
    return this.#bytes.subarray(0, this.#length);
  }

  /** The whole list's bytes, valid until this list or the store next changes. */
  bytes(): Uint8Array {
    if (this.#source && this.#length > 0) this.#own();
    if (this.#source) return this.#source.childBytes(this.#id, this.#generation);
    return this.#bytes.subarray(0, this.#length);
  }

  /**
   * Called by the store once it holds this list for node `id` at `generation`, when the list was
   * read from that node: it now reads the stored bytes, nothing held aside.
   */
  storedAs(generation: number, length: number): void {
    this.#generation = generation;
    this.#sourceLength = length;
    this.#length = 0;
  }

  /** The names, in order. */
  names(): string[] {
    const bytes = this.bytes();
    if (bytes.length === 0) return [];
    const names = latin1(bytes, 0, bytes.length).split('\0');
    names.pop();
    return names;
  }

  /** Appends a name. */
  append(name: string): void {
    if (this.#frozen) throw new TypeError('the shared empty child list cannot change');
    const end = this.#length + name.length + 1;
    if (end > this.#bytes.length) {
      const bytes = new Uint8Array(Math.max(INITIAL_CAPACITY, end, this.#bytes.length * 2));
      bytes.set(this.#bytes.subarray(0, this.#length));
      this.#bytes = bytes;
    }
    writeLatin1(this.#bytes, this.#length, name);
    this.#bytes[end - 1] = 0;
    this.#length = end;
  }

  /** Removes `name`; false when it is not in the list. */
  remove(name: string): boolean {
    const at = this.#find(name);
    if (at < 0) return false;
    this.#own();
    this.#bytes.copyWithin(at, at + name.length + 1, this.#length);
    this.#length -= name.length + 1;
    return true;
  }

  /** Whether `name` is in the list. */
  has(name: string): boolean {
    return this.#find(name) >= 0;
  }

  /** A list of its own with the same names. */
  copy(): ChildList {
    const list = new ChildList(0);
    list.#bytes = this.bytes().slice();
    list.#length = list.#bytes.length;
    return list;
  }

  /** DIRECTORY's reply: every name nul-terminated; E2BIG when that exceeds a payload. */
  payload(): Uint8Array {
    if (this.byteLength > PAYLOAD_MAX) {
      throw new XenstoreError('E2BIG', 'child list too long for one reply');
    }
    return this.bytes().slice();
  }

  /**
   * DIRECTORY_PART's reply as C 4.17's `send_directory_part` builds it: the generation, then
   * child list bytes from byte `offset` (which may fall inside a name) as long as each next name
   * fits one byte under the payload limit, plus an extra nul when the slice reaches the end.
   */
  slice(generation: string, offset: number): Buffer {
    const children = this.bytes();
    const total = children.length;
    const head = generation.length + 1;
    if (offset >= total) return Buffer.from(`${generation}\0\0`, 'latin1');
    const maxlen = PAYLOAD_MAX - head - 1;
    let len = 0;
    let at = offset;
    for (;;) {
      const strlen = nulFrom(children, at) - at;
      if (len + strlen >= maxlen) break;
      len += strlen + 1;
      at += strlen + 1;
      if (offset + len === total) break;
    }
    const complete = offset + len === total;
    const out = Buffer.allocUnsafe(head + len + (complete ? 1 : 0));
    out.write(generation, 0, 'latin1');
    out[generation.length] = 0;
    out.set(children.subarray(offset, offset + len), head);
    if (complete) out[head + len] = 0;
    return out;
  }

  /** Byte offset of `name` in the list, or -1. */
  #find(name: string): number {
    const bytes = this.bytes();
    const size = name.length;
    let start = 0;
    while (start < bytes.length) {
      const end = nulFrom(bytes, start);
      if (end - start === size && matches(bytes, start, name)) return start;
      start = end + 1;
    }
    return -1;
  }

  /** Takes the stored bytes (and those added since) into this list's own buffer. */
  #own(): void {
    const source = this.#source;
    if (!source) return;
    const stored = source.childBytes(this.#id, this.#generation);
    const bytes = new Uint8Array(Math.max(INITIAL_CAPACITY, stored.length + this.#length));
    bytes.set(stored);
    bytes.set(this.#bytes.subarray(0, this.#length), stored.length);
    this.#bytes = bytes;
    this.#length += stored.length;
    this.#source = undefined;
    this.#sourceLength = 0;
  }
}

/** Where the name at `start` ends: its nul, or the end of a list that lacks one. */
function nulFrom(bytes: Uint8Array, start: number): number {
  const end = bytes.indexOf(0, start);
  return end < 0 ? bytes.length : end;
}

/** The text of `bytes[start, end)`, one character per byte. */
function latin1(bytes: Uint8Array, start: number, end: number): string {
  return Buffer.from(bytes.buffer, bytes.byteOffset, bytes.length).toString('latin1', start, end);
}

/** Writes `text` (ASCII) at `offset`, one byte per character. */
export function writeLatin1(bytes: Uint8Array, offset: number, text: string): void {
  for (let i = 0; i < text.length; i++) bytes[offset + i] = text.charCodeAt(i);
}

/** Whether `bytes` holds `text` at `offset`, one byte per character. */
export function matches(bytes: Uint8Array, offset: number, text: string): boolean {
  for (let i = 0; i < text.length; i++) {
    if (bytes[offset + i] !== text.charCodeAt(i)) return false;
  }
  return true;
}
