/**
 * The least a Node process can do per xenstore READ through its event loop, in a process of its
 * own (see `least-client.ts`):
 *
 *   least-client-process.ts JOB
 *
 * Over the daemon's socket: a `net` socket reading with `onread` into one reused buffer, the
 * same prebuilt READ frame written with `socket.write` for every op, and a promise per op
 * resolved once the reply's header and as many bytes as it announces have come. Over dom0's
 * ring: the same frame written into the request ring and the daemon notified through the event
 * channel (the native addon's datagram socket, as every ring client of the harness), the
 * response ring read into one reused buffer whenever the channel fires. No path check, no
 * encoding, no request table, no decoding, no framing beyond counting bytes. Whatever a Node
 * client does on top costs more than this; what this costs beyond the C client is Node's own
 * share (libuv's poll, the call into JavaScript, the promise, and the socket's write or the
 * addon's notification), which no client library can take off.
 */
import { Buffer } from 'node:buffer';
import { connect } from 'node:net';
import { XenstoreRing } from '../../src/ring/index.ts';
import {
  encodeRequest,
  HEADER_SIZE,
  ringConnector,
  XenstoreClient,
} from '../../src/xenstore/index.ts';
import type { RingTarget } from './client-loop.ts';
import { openDom0Ring } from './dom0-ring.ts';
import type { LeastClientJob } from './least-client.ts';
import { measureWhenTold } from './measured-child.ts';

const job = JSON.parse(process.argv[2] ?? 'null') as LeastClientJob | null;
if (!job) throw new Error('usage: least-client-process.ts JOB');

/** A connection on which `roundTrip()` sends one READ and resolves once its reply is whole. */
interface RawConnection {
  roundTrip(): Promise<void>;
  close(): void;
}

/**
 * Counts a reply's bytes as they come, in pieces or whole: the header is gathered in a buffer of
 * its own (C xenstored writes its header and its payload separately), and `done` is called once
 * the header and the payload it announces are in.
 */
class ReplyCounter {
  readonly #header = Buffer.alloc(HEADER_SIZE);
  #received = 0;
  #expected = HEADER_SIZE;
  done: () => void = () => {};

  take(bytes: Uint8Array, size: number): void {
    const received = this.#received;
    if (received < HEADER_SIZE) {
      this.#header.set(bytes.subarray(0, Math.min(size, HEADER_SIZE - received)), received);
    }
    this.#received += size;
    if (this.#received >= HEADER_SIZE && this.#expected === HEADER_SIZE) {
      this.#expected = HEADER_SIZE + this.#header.readUInt32LE(12);
    }
    if (this.#received >= this.#expected) {
      this.#received = 0;
      this.#expected = HEADER_SIZE;
      this.done();
    }
  }
}

function rawSocket(socketPath: string, frame: Uint8Array): Promise<RawConnection> {
  const counter = new ReplyCounter();
  return new Promise((resolve, reject) => {
    const socket = connect({
      path: socketPath,
      onread: {
        buffer: Buffer.allocUnsafe(64 * 1024),
        callback: (size, buffer) => {
          counter.take(buffer, size);
          return true;
        },
      },
    });
    socket.once('error', reject);
    socket.once('connect', () => {
      socket.off('error', reject);
      resolve({
        roundTrip: () =>
          new Promise((done) => {
            counter.done = done;
            socket.write(frame);
          }),
        close: () => socket.destroy(),
      });
    });
  });
}

/**
 * The ring of dom0's page, connected the library's way first (the reconnection handshake the
 * daemon offers), then driven by hand.
 */
async function rawRing(target: RingTarget, frame: Uint8Array): Promise<RawConnection> {
  const dom0 = openDom0Ring(target);
  const { page, eventChannel: channel, port, close } = dom0;
  const handshake = await XenstoreClient.connect({ transport: ringConnector(dom0) });
  await handshake.close();
  const ring = new XenstoreRing('guest', page.buffer, {
    byteOffset: page.byteOffset,
    notify: () => channel.notify(port),
  });
  const counter = new ReplyCounter();
  const into = Buffer.alloc(4096);
  channel.on('pending', () => {
    channel.unmask(port);
    for (let size = ring.read(into); size > 0; size = ring.read(into)) counter.take(into, size);
  });
  return {
    roundTrip: () =>
      new Promise((done) => {
        counter.done = done;
        ring.write(frame);
      }),
    close,
  };
}

const path = `${job.base}/value`;
const setup = await XenstoreClient.connect({ socketPath: job.socketPath });
try {
  await setup.write(path, Buffer.alloc(job.size, 'v'));
  // Built once, untimed: the loop only writes it.
  const { frame } = encodeRequest({ op: 'READ', path }, { reqId: 0, txId: 0 });
  const raw = job.ring ? await rawRing(job.ring, frame) : await rawSocket(job.socketPath, frame);
  try {
    for (let i = 0; i < job.warmupOps; i++) await raw.roundTrip();
    await measureWhenTold(async () => {
      for (let i = 0; i < job.ops; i++) await raw.roundTrip();
      return { ops: job.ops };
    });
  } finally {
    raw.close();
  }
  await setup.rm(job.base);
} finally {
  await setup.close();
}
