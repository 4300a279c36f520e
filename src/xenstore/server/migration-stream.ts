import { XenstoreError } from '../errors.ts';
import type { Access } from '../permissions.ts';

/**
 * Xen's xenstore migration stream (`docs/designs/xenstore-migration.md`), in the layout C
 * xenstored 4.17 writes for live update (`xenstore_state.h`): an 8-byte ident `xenstore`, a
 * big-endian version 1 and an endianness flag, then records of a 32-bit type and length, each
 * body padded with zeros to a multiple of 8 bytes, ending with an END record.
 *
 * This file holds the byte format only; what the records mean to a server is in `migration.ts`.
 */

/** Record type numbers (`XS_STATE_TYPE_*`). */
export const RecordType = {
  END: 0,
  GLOBAL: 1,
  CONNECTION: 2,
  WATCH: 3,
  TRANSACTION: 4,
  NODE: 5,
} as const;

/** `DOMID_INVALID`: the `tdomid` of a ring connection without SET_TARGET. */
export const DOMID_INVALID = 0x7ff4;

/**
 * The sockets and event-channel handle a live-updated C daemon keeps (file descriptors, or -1).
 * @category Migration
 */
export interface GlobalRecord {
  /** Tells the records apart. */
  readonly type: 'global';
  /** The daemon's listening unix socket, inherited across the live update. */
  readonly socketFd: number;
  /** The daemon's open `/dev/xen/evtchn`, inherited so bound ports survive. */
  readonly evtchnFd: number;
}

/**
 * Bytes a connection had read but not served, or queued but not sent.
 * @category Migration
 */
export interface PendingData {
  /** Start of a request not yet complete (at most a header and part of its payload). */
  readonly input: Uint8Array;
  /** Length of the partly sent response at the head of `output` (0: none). */
  readonly partialResponse: number;
  /** Replies and events not yet written, as wire bytes. */
  readonly output: Uint8Array;
}

/**
 * A connection: a domain's ring, or a socket (live update only).
 * @category Migration
 */
export type ConnectionRecord = {
  /** Tells the records apart. */
  readonly type: 'connection';
  /** Non-zero; watch, transaction and node records refer to it. */
  readonly connId: number;
} & PendingData &
  (
    | {
        /** A domain's shared ring page. */
        readonly kind: 'ring';
        /** The domain the ring belongs to. */
        readonly domid: number;
        /** The domain this one controls (SET_TARGET), or `DOMID_INVALID` (0x7ff4). */
        readonly targetDomid: number;
        /** The server's local event-channel port bound to the domain's. */
        readonly port: number;
      }
    | {
        /** A unix-socket client of the daemon. */
        readonly kind: 'socket';
        /** The accepted socket's file descriptor, inherited across the live update. */
        readonly fd: number;
      }
  );

/**
 * A watch of the connection `connId`; `path` as the client gave it (relative paths stay so).
 * @category Migration
 */
export interface WatchRecord {
  /** Tells the records apart. */
  readonly type: 'watch';
  /** The connection that set the watch. */
  readonly connId: number;
  /** The watched path (or `@introduceDomain`, `@releaseDomain`). */
  readonly path: string;
  /** The client's token, sent back with each event. */
  readonly token: string;
}

/**
 * An open transaction of the connection `connId`.
 * @category Migration
 */
export interface TransactionRecord {
  /** Tells the records apart. */
  readonly type: 'transaction';
  /** The connection the transaction belongs to. */
  readonly connId: number;
  /** The transaction's id as the client knows it; node records of the transaction carry it. */
  readonly txId: number;
}

/**
 * One permission entry of a node record.
 * @category Migration
 */
export interface StreamPermission {
  /** `r`, `w`, `b` (both) or `n` (none); the first entry's is everyone else's access. */
  readonly access: Access;
  /** The domain the entry is for; the first entry's is the node's owner. */
  readonly domid: number;
  /** `XS_STATE_NODE_PERM_IGNORE`: the domain did not exist when the entry was set. */
  readonly ignored: boolean;
}

/** `ta_access` bits of a node in a transaction. */
export const NodeAccess = { READ: 1, WRITTEN: 2 } as const;

/**
 * A node: committed (`connId` 0), or a transaction's view of it. In a transaction, no
 * permissions means the node is missing there (deleted by it when `access` has no READ bit).
 * Special paths (`@introduceDomain`, `@releaseDomain`) carry only permissions.
 * @category Migration
 */
export interface NodeRecord {
  /** Tells the records apart. */
  readonly type: 'node';
  /** 0 for the committed tree, else the connection whose transaction this view belongs to. */
  readonly connId: number;
  /** The transaction's id (0 for the committed tree). */
  readonly txId: number;
  /** In a transaction, `ta_access` bits: 1 the node was read, 2 written (0 outside one). */
  readonly access: number;
  /** Absolute path of the node. */
  readonly path: string;
  /** The node's value, as bytes. */
  readonly value: Uint8Array;
  /** The node's permissions, owner first; empty for a node missing in a transaction. */
  readonly perms: readonly StreamPermission[];
}

/**
 * A record of a type this format does not define; kept as bytes (C skips them).
 * @category Migration
 */
export interface UnknownRecord {
  /** Tells the records apart. */
  readonly type: 'unknown';
  /** The record's type number as found in the stream. */
  readonly typeCode: number;
  /** The record's body without its padding, so it can be written back unchanged. */
  readonly body: Uint8Array;
}

/**
 * Any record but END, which the codec adds and removes itself.
 * @category Migration
 */
export type MigrationRecord =
  | GlobalRecord
  | ConnectionRecord
  | WatchRecord
  | TransactionRecord
  | NodeRecord
  | UnknownRecord;

/**
 * A whole stream: its byte order and its records in order (END excluded).
 * @category Migration
 */
export interface MigrationStream {
  /** The writer's byte order, which every field after the preamble uses. */
  readonly bigEndian: boolean;
  /** The records in the order written; the END record is implied, not listed. */
  readonly records: readonly MigrationRecord[];
}

/**
 * A stream that cannot be read: `code` is EINVAL for a malformed field, EPROTO for a stream that
 * is not a xenstore stream of a version this reader knows, and `offset` is the byte where the
 * problem lies.
 * @category Migration
 */
export class MigrationStreamError extends XenstoreError {
  constructor(
    code: 'EINVAL' | 'EPROTO',
    /** Byte offset in the stream of the field or record at fault. */
    readonly offset: number,
    detail: string,
  ) {
    super(code, `migration stream, offset ${offset}: ${detail}`);
  }
}

const IDENT = Buffer.from('xenstore', 'latin1');
const PREAMBLE_SIZE = 16;
const RECORD_HEADER_SIZE = 8;
const CONNECTION_FIXED = 24;
const WATCH_FIXED = 8;
const NODE_FIXED = 16;
const PERM_IGNORE = 0x01;
const accessLetters: ReadonlySet<string> = new Set(['r', 'w', 'b', 'n']);

function align8(n: number): number {
  return (n + 7) & ~7;
}

/**
 * Encodes `stream` byte for byte as C xenstored writes it (END appended).
 * @category Migration
 */
export function encodeMigrationStream(stream: MigrationStream): Uint8Array {
  const le = !stream.bigEndian;
  const parts: Buffer[] = [];
  const preamble = Buffer.alloc(PREAMBLE_SIZE);
  IDENT.copy(preamble, 0);
  preamble.writeUInt32BE(1, 8);
  preamble.writeUInt32BE(stream.bigEndian ? 1 : 0, 12);
  parts.push(preamble);
  for (const record of stream.records) {
    const body = encodeBody(record, le);
    const typeCode = record.type === 'unknown' ? record.typeCode : RecordType[typeKey(record)];
    parts.push(recordHeader(typeCode, align8(body.length), le), body);
    parts.push(Buffer.alloc(align8(body.length) - body.length));
  }
  parts.push(recordHeader(RecordType.END, 0, le));
  return Buffer.concat(parts);
}

function typeKey(record: Exclude<MigrationRecord, UnknownRecord>): keyof typeof RecordType {
  switch (record.type) {
    case 'global':
      return 'GLOBAL';
    case 'connection':
      return 'CONNECTION';
    case 'watch':
      return 'WATCH';
    case 'transaction':
      return 'TRANSACTION';
    case 'node':
      return 'NODE';
  }
}

function recordHeader(type: number, length: number, le: boolean): Buffer {
  const header = Buffer.alloc(RECORD_HEADER_SIZE);
  u32(header, 0, type, le);
  u32(header, 4, length, le);
  return header;
}

function u32(buf: Buffer, offset: number, value: number, le: boolean): void {
  if (le) buf.writeUInt32LE(value >>> 0, offset);
  else buf.writeUInt32BE(value >>> 0, offset);
}

function u16(buf: Buffer, offset: number, value: number, le: boolean): void {
  if (le) buf.writeUInt16LE(value & 0xffff, offset);
  else buf.writeUInt16BE(value & 0xffff, offset);
}

function words(first: number, second: number, le: boolean): Buffer {
  const body = Buffer.alloc(8);
  u32(body, 0, first, le);
  u32(body, 4, second, le);
  return body;
}

function cString(text: string): Buffer {
  return Buffer.concat([Buffer.from(text), Buffer.alloc(1)]);
}

function encodeBody(record: MigrationRecord, le: boolean): Buffer {
  switch (record.type) {
    case 'global':
      return words(record.socketFd, record.evtchnFd, le);
    case 'connection': {
      const body = Buffer.alloc(CONNECTION_FIXED);
      u32(body, 0, record.connId, le);
      if (record.kind === 'ring') {
        u16(body, 4, 0, le);
        u16(body, 8, record.domid, le);
        u16(body, 10, record.targetDomid, le);
        u32(body, 12, record.port, le);
      } else {
        u16(body, 4, 1, le);
        u32(body, 8, record.fd, le);
      }
      u16(body, 16, record.input.length, le);
      u16(body, 18, record.partialResponse, le);
      u32(body, 20, record.output.length, le);
      return Buffer.concat([body, record.input, record.output]);
    }
    case 'watch': {
      const path = cString(record.path);
      const token = cString(record.token);
      const body = Buffer.alloc(WATCH_FIXED);
      u32(body, 0, record.connId, le);
      u16(body, 4, path.length, le);
      u16(body, 6, token.length, le);
      return Buffer.concat([body, path, token]);
    }
    case 'transaction':
      return words(record.connId, record.txId, le);
    case 'node': {
      const path = cString(record.path);
      const body = Buffer.alloc(NODE_FIXED + 4 * record.perms.length);
      u32(body, 0, record.connId, le);
      u32(body, 4, record.txId, le);
      u16(body, 8, path.length, le);
      u16(body, 10, record.value.length, le);
      u16(body, 12, record.access, le);
      u16(body, 14, record.perms.length, le);
      record.perms.forEach((perm, i) => {
        const at = NODE_FIXED + 4 * i;
        body[at] = perm.access.charCodeAt(0);
        body[at + 1] = perm.ignored ? PERM_IGNORE : 0;
        u16(body, at + 2, perm.domid, le);
      });
      return Buffer.concat([body, path, record.value]);
    }
    case 'unknown':
      return Buffer.from(record.body);
  }
}

/**
 * Reads a stream. Every length is checked against the bytes that hold it, so a truncated or
 * corrupted stream is a {@link MigrationStreamError} naming the offset, never a crash or a
 * partial result. Bytes after END are ignored, as C ignores them.
 * @category Migration
 */
export function decodeMigrationStream(bytes: Uint8Array): MigrationStream {
  const buf = Buffer.from(bytes.buffer, bytes.byteOffset, bytes.length);
  if (buf.length < PREAMBLE_SIZE) {
    throw new MigrationStreamError('EPROTO', 0, `${buf.length} bytes: no preamble`);
  }
  if (!buf.subarray(0, 8).equals(IDENT)) {
    throw new MigrationStreamError('EPROTO', 0, 'not a xenstore stream (ident)');
  }
  const version = buf.readUInt32BE(8);
  if (version !== 1) throw new MigrationStreamError('EPROTO', 8, `version ${version}`);
  const flags = buf.readUInt32BE(12);
  if (flags > 1) throw new MigrationStreamError('EINVAL', 12, `reserved flags ${flags}`);
  const bigEndian = flags === 1;
  const reader = new FieldReader(buf, !bigEndian);
  const records: MigrationRecord[] = [];
  let offset = PREAMBLE_SIZE;
  for (;;) {
    if (offset + RECORD_HEADER_SIZE > buf.length) {
      throw new MigrationStreamError('EINVAL', offset, 'stream ends without an END record');
    }
    const typeCode = reader.u32(offset);
    const length = reader.u32(offset + 4);
    const body = offset + RECORD_HEADER_SIZE;
    if (typeCode === RecordType.END) return { bigEndian, records };
    if (length > buf.length - body) {
      throw new MigrationStreamError('EINVAL', offset + 4, `record length ${length} past the end`);
    }
    if (length % 8 !== 0) {
      throw new MigrationStreamError('EINVAL', offset + 4, `record length ${length} not aligned`);
    }
    records.push(decodeBody(reader, typeCode, body, length));
    offset = body + length;
  }
}

/** Reads fields of one byte order, each checked against the end of its record. */
class FieldReader {
  end = 0;
  constructor(
    readonly buf: Buffer,
    readonly le: boolean,
  ) {}

  need(offset: number, size: number, what: string): void {
    if (offset + size > this.end) {
      throw new MigrationStreamError('EINVAL', offset, `${what} runs past its record`);
    }
  }
  u32(offset: number): number {
    return this.le ? this.buf.readUInt32LE(offset) : this.buf.readUInt32BE(offset);
  }
  i32(offset: number): number {
    return this.le ? this.buf.readInt32LE(offset) : this.buf.readInt32BE(offset);
  }
  u16(offset: number): number {
    return this.le ? this.buf.readUInt16LE(offset) : this.buf.readUInt16BE(offset);
  }
  bytes(offset: number, length: number, what: string): Uint8Array {
    this.need(offset, length, what);
    return new Uint8Array(this.buf.subarray(offset, offset + length));
  }
  /** A NUL-terminated string of `length` bytes including the NUL. */
  cString(offset: number, length: number, what: string): string {
    this.need(offset, length, what);
    if (length === 0 || this.buf[offset + length - 1] !== 0) {
      throw new MigrationStreamError('EINVAL', offset, `${what} is not NUL-terminated`);
    }
    const text = this.buf.subarray(offset, offset + length - 1);
    if (text.includes(0)) {
      throw new MigrationStreamError('EINVAL', offset, `${what} holds a NUL byte`);
    }
    return text.toString('utf8');
  }
}

function decodeBody(r: FieldReader, typeCode: number, at: number, length: number): MigrationRecord {
  r.end = at + length;
  switch (typeCode) {
    case RecordType.GLOBAL:
      r.need(at, 8, 'global record');
      return { type: 'global', socketFd: r.i32(at), evtchnFd: r.i32(at + 4) };
    case RecordType.CONNECTION:
      return decodeConnection(r, at);
    case RecordType.WATCH: {
      r.need(at, WATCH_FIXED, 'watch record');
      const pathLength = r.u16(at + 4);
      const tokenLength = r.u16(at + 6);
      const path = r.cString(at + WATCH_FIXED, pathLength, 'watch path');
      const token = r.cString(at + WATCH_FIXED + pathLength, tokenLength, 'watch token');
      return { type: 'watch', connId: connId(r, at), path, token };
    }
    case RecordType.TRANSACTION:
      r.need(at, 8, 'transaction record');
      return { type: 'transaction', connId: r.u32(at), txId: r.u32(at + 4) };
    case RecordType.NODE:
      return decodeNode(r, at);
    default:
      return { type: 'unknown', typeCode, body: r.bytes(at, length, 'record') };
  }
}

function connId(r: FieldReader, at: number): number {
  const id = r.u32(at);
  if (id === 0) throw new MigrationStreamError('EINVAL', at, 'connection id 0');
  return id;
}

function decodeConnection(r: FieldReader, at: number): ConnectionRecord {
  r.need(at, CONNECTION_FIXED, 'connection record');
  const id = connId(r, at);
  const kind = r.u16(at + 4);
  const inLength = r.u16(at + 16);
  const partialResponse = r.u16(at + 18);
  const outLength = r.u32(at + 20);
  const data = at + CONNECTION_FIXED;
  const input = r.bytes(data, inLength, 'pending input');
  const output = r.bytes(data + inLength, outLength, 'pending output');
  if (partialResponse > outLength) {
    throw new MigrationStreamError('EINVAL', at + 18, 'partial response longer than the output');
  }
  const pending = { input, partialResponse, output };
  if (kind === 0) {
    return {
      type: 'connection',
      connId: id,
      kind: 'ring',
      domid: r.u16(at + 8),
      targetDomid: r.u16(at + 10),
      port: r.u32(at + 12),
      ...pending,
    };
  }
  if (kind === 1) {
    return { type: 'connection', connId: id, kind: 'socket', fd: r.i32(at + 8), ...pending };
  }
  throw new MigrationStreamError('EINVAL', at + 4, `connection type ${kind}`);
}

function decodeNode(r: FieldReader, at: number): NodeRecord {
  r.need(at, NODE_FIXED, 'node record');
  const pathLength = r.u16(at + 8);
  const valueLength = r.u16(at + 10);
  const access = r.u16(at + 12);
  const count = r.u16(at + 14);
  r.need(at + NODE_FIXED, 4 * count, 'node permissions');
  const perms: StreamPermission[] = [];
  for (let i = 0; i < count; i++) {
    const p = at + NODE_FIXED + 4 * i;
    const letter = String.fromCharCode(r.buf[p]!);
    if (!accessLetters.has(letter)) {
      throw new MigrationStreamError('EINVAL', p, `permission letter 0x${r.buf[p]!.toString(16)}`);
    }
    const flags = r.buf[p + 1]!;
    if ((flags & ~PERM_IGNORE) !== 0) {
      throw new MigrationStreamError('EINVAL', p + 1, `permission flags 0x${flags.toString(16)}`);
    }
    perms.push({ access: letter as Access, domid: r.u16(p + 2), ignored: flags !== 0 });
  }
  const pathAt = at + NODE_FIXED + 4 * count;
  const path = r.cString(pathAt, pathLength, 'node path');
  const value = r.bytes(pathAt + pathLength, valueLength, 'node value');
  const conn = r.u32(at);
  if (conn === 0 && count === 0) {
    throw new MigrationStreamError('EINVAL', at + 14, `committed node ${path} without owner`);
  }
  return { type: 'node', connId: conn, txId: r.u32(at + 4), access, path, value, perms };
}
