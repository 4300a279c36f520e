/**
 * The least a Node process can do per xenstore READ through its event loop, in a process of its
 * own (see `least-client.ts`):
 *
 *   least-client-process.ts JOB
 *
 * A `net` socket reading with `onread` into one reused buffer, the same prebuilt READ frame
 * written with `socket.write` for every op, and a promise per op resolved once the reply's header
 * and as many bytes as it announces have come: no path check, no encoding, no request table, no
 * decoding. Whatever a Node client does on top costs more than this; what this costs beyond the C
 * client is Node's own share (libuv's poll, the callback into JavaScript, the stream's write, the
 * promise), which no client library can take off.
 */
import { Buffer } from 'node:buffer';
import { connect, type Socket } from 'node:net';
import { XenstoreClient } from '../../src/xenstore/index.ts';
import type { LeastClientJob } from './least-client.ts';
import { measureWhenTold } from './measured-child.ts';

const HEADER = 16;
const READ = 2;

const job = JSON.parse(process.argv[2] ?? 'null') as LeastClientJob | null;
if (!job) throw new Error('usage: least-client-process.ts JOB');

const path = `${job.base}/value`;
const setup = await XenstoreClient.connect({ socketPath: job.socketPath });
try {
  await setup.write(path, Buffer.alloc(job.size, 'v'));
  const frame = readFrame(path);
  const { socket, roundTrip } = await rawConnection(job.socketPath, frame);
  try {
    for (let i = 0; i < job.warmupOps; i++) await roundTrip();
    await measureWhenTold(async () => {
      for (let i = 0; i < job.ops; i++) await roundTrip();
      return { ops: job.ops };
    });
  } finally {
    socket.destroy();
  }
  await setup.rm(job.base);
} finally {
  await setup.close();
}

function readFrame(of: string): Buffer {
  const payload = Buffer.from(`${of}\0`, 'latin1');
  const frame = Buffer.alloc(HEADER + payload.length);
  frame.writeUInt32LE(READ, 0);
  frame.writeUInt32LE(payload.length, 12);
  payload.copy(frame, HEADER);
  return frame;
}

/**
 * A connection on which `roundTrip()` writes `frame` and resolves once one whole reply has
 * come. The header is gathered in a buffer of its own, since a reply may come in pieces (C
 * xenstored writes its header and its payload separately).
 */
function rawConnection(
  socketPath: string,
  frame: Buffer,
): Promise<{ socket: Socket; roundTrip: () => Promise<void> }> {
  const header = Buffer.alloc(HEADER);
  let received = 0;
  let expected = HEADER;
  let done: () => void = () => {};
  const onReply = (size: number, buffer: Buffer): boolean => {
    if (received < HEADER) buffer.copy(header, received, 0, Math.min(size, HEADER - received));
    received += size;
    if (received >= HEADER && expected === HEADER) expected = HEADER + header.readUInt32LE(12);
    if (received >= expected) {
      received = 0;
      expected = HEADER;
      done();
    }
    return true;
  };
  return new Promise((resolve, reject) => {
    const socket = connect({
      path: socketPath,
      onread: { buffer: Buffer.allocUnsafe(64 * 1024), callback: onReply },
    });
    socket.once('error', reject);
    socket.once('connect', () => {
      socket.off('error', reject);
      const roundTrip = (): Promise<void> =>
        new Promise((resolveTrip) => {
          done = resolveTrip;
          socket.write(frame);
        });
      resolve({ socket, roundTrip });
    });
  });
}
