/**
 * Fair service under load: how long a dom0 reader waits while another connection keeps the
 * daemon busy with writes that fan out to 1,000 watcher connections, the in-memory xenstored vs
 * the C xenstored, both in their own process, driven by the same clients in this one.
 *
 * - `fairness.pipelined`: 100 WRITEs sent in one go (each firing 1,000 watches), then a READ on
 *   another connection 2 ms later; the READ's latency, median over several bursts.
 * - `fairness.storm`: a writer keeps 100 WRITEs in flight (each firing 1,000 watches) while a
 *   reader reads one value at a time; the reader's p99 latency.
 *
 * Rates are 1000 / latency in ms (higher is better), so the ratio is C's latency over ours; the
 * goal is at most 3 times C's latency.
 */
import net from 'node:net';
import { MessageFramer } from '../src/xenstore/framer.ts';
import { MessageType } from '../src/xenstore/messages.ts';
import { joinStrings } from '../src/xenstore/payload.ts';
import { encodeMessage } from '../src/xenstore/wire.ts';
import type { BenchPair, RunOptions, Sample } from './lib/types.ts';
import { XenstoreFixture } from './lib/xenstore-fixture.ts';

const WATCHERS = 1_000;
const WATCHED = '/bench/fairness/watched';
const READ_PATH = '/bench/fairness/read';

/** The `p`th percentile (nearest rank) of a non-empty list. */
function percentile(values: readonly number[], p: number): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)]!;
}

/** One raw connection: requests out, whole messages in. */
class Raw {
  readonly #framer = new MessageFramer();
  readonly #waiting: ((type: number) => void)[] = [];
  private constructor(readonly socket: net.Socket) {
    socket.on('data', (chunk) => {
      for (const message of this.#framer.push(chunk)) {
        if (message.type !== MessageType.WATCH_EVENT) this.#waiting.shift()?.(message.type);
      }
    });
  }

  static open(path: string): Promise<Raw> {
    return new Promise((resolve, reject) => {
      const socket = net.connect(path, () => resolve(new Raw(socket)));
      socket.once('error', reject);
    });
  }

  /** Sends `count` requests in one write; resolves when all are answered. */
  send(type: number, strings: string[], count = 1): Promise<void> {
    const frame = encodeMessage({ type, reqId: 1, txId: 0, payload: joinStrings(strings) });
    const answered = Array.from(
      { length: count },
      () => new Promise<void>((resolve) => this.#waiting.push(() => resolve())),
    );
    this.socket.write(Buffer.concat(Array.from({ length: count }, () => frame)));
    return Promise.all(answered).then(() => undefined);
  }

  /** One request's round trip, in ms. */
  async timed(type: number, strings: string[]): Promise<number> {
    const start = performance.now();
    await this.send(type, strings);
    return performance.now() - start;
  }

  close(): void {
    this.socket.destroy();
  }
}

/** The same clients against one daemon: 1,000 watchers, a writer, a reader. */
class Load {
  private constructor(
    readonly watchers: Raw[],
    readonly writer: Raw,
    readonly reader: Raw,
  ) {}

  static async open(socketPath: string): Promise<Load> {
    const writer = await Raw.open(socketPath);
    await writer.send(MessageType.WRITE, [READ_PATH, 'value']);
    const watchers: Raw[] = [];
    for (let i = 0; i < WATCHERS; i++) {
      const watcher = await Raw.open(socketPath);
      await watcher.send(MessageType.WATCH, [WATCHED, `w${i}`]);
      watchers.push(watcher);
    }
    return new Load(watchers, writer, await Raw.open(socketPath));
  }

  close(): void {
    for (const raw of [...this.watchers, this.writer, this.reader]) raw.close();
  }
}

const write = (raw: Raw, count: number) =>
  raw.send(MessageType.WRITE, [`${WATCHED}/x`, 'payload'], count);

/** The READ's latency 2 ms after 100 pipelined fanned-out WRITEs, median over the bursts. */
async function pipelined(load: Load, options: RunOptions): Promise<Sample> {
  const latencies: number[] = [];
  for (let burst = 0; burst < (options.quick ? 2 : 5); burst++) {
    const flood = write(load.writer, 100);
    await new Promise((resolve) => setTimeout(resolve, 2));
    latencies.push(await load.reader.timed(MessageType.READ, [READ_PATH]));
    await flood;
  }
  const median = percentile(latencies, 50);
  return { rate: 1000 / median, extra: { 'read ms': median, 'worst ms': Math.max(...latencies) } };
}

/** The reader's p99 while a writer keeps 100 fanned-out WRITEs in flight. */
async function storm(load: Load, options: RunOptions): Promise<Sample> {
  const total = options.quick ? 300 : 2_000;
  const latencies: number[] = [];
  let done = false;
  const writer = (async () => {
    for (let sent = 0; sent < total; sent += 100) await write(load.writer, 100);
    done = true;
  })();
  const started = performance.now();
  while (!done) latencies.push(await load.reader.timed(MessageType.READ, [READ_PATH]));
  await writer;
  const seconds = (performance.now() - started) / 1000;
  const p99 = percentile(latencies, 99);
  return {
    rate: 1000 / p99,
    extra: {
      'p99 ms': p99,
      'p50 ms': percentile(latencies, 50),
      'reads/s': latencies.length / seconds,
    },
  };
}

function pair(
  id: string,
  title: string,
  measure: (load: Load, options: RunOptions) => Promise<Sample>,
): BenchPair {
  const fixture = new XenstoreFixture({ realDaemon: 'xenstored', mock: true });
  const loads = new Map<string, Load>();
  const run = async (socketPath: string, options: RunOptions): Promise<Sample> => {
    let load = loads.get(socketPath);
    if (!load) {
      load = await Load.open(socketPath);
      loads.set(socketPath, load);
    }
    return measure(load, options);
  };
  return {
    id,
    title,
    unit: 'reads/s',
    // At most 3 times C's latency.
    goal: { ratio: 1 / 3, direction: 'at-least' },
    ...fixture.hooks,
    teardown: async () => {
      for (const load of loads.values()) load.close();
      loads.clear();
      await fixture.hooks.teardown();
    },
    baseline: {
      label: 'C xenstored',
      run: (options) => run(fixture.realDaemon.socketPath, options),
    },
    candidate: {
      label: 'xenwire xenstored',
      run: (options) => run(fixture.mock.socketPath, options),
    },
  };
}

const pairs: BenchPair[] = [
  pair(
    'fairness.pipelined',
    'dom0 READ 2 ms after 100 pipelined WRITEs firing 1,000 watches each',
    pipelined,
  ),
  pair('fairness.storm', 'dom0 READs during a storm of WRITEs firing 1,000 watches each', storm),
];

export default pairs;
