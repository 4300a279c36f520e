import fc from 'fast-check';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import {
  FaultInjector,
  type FaultPlan,
  type FaultRecord,
  type FaultSpec,
  parseFaultSpec,
} from '../../src/xenstore/faults/index.ts';
import {
  encodeMessage,
  encodeRequest,
  type Message,
  MessageFramer,
  MessageType,
  type Request,
  watchEventMessage,
} from '../../src/xenstore/index.ts';

/** One message arriving at the injector, from either side. */
type Step = { from: 'client'; message: Message } | { from: 'server'; message: Message };

interface Run {
  faults: FaultRecord[];
  toServer: Message[];
  /** Every byte the client got, in order. */
  toClient: Buffer;
  /** How many writes the client got. */
  writes: number;
  closed: boolean;
}

// Delays, stalls and the pauses between chunks run on fake timers: a run settles at once.
beforeEach(() => {
  vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout', 'performance'] });
});
afterEach(() => {
  vi.useRealTimers();
});

/** Feeds `steps` to an injector of `plan` (on byte media unless `messagesOnly`) and waits. */
async function run(plan: FaultPlan, steps: readonly Step[], messagesOnly = false): Promise<Run> {
  const result: Run = {
    faults: [],
    toServer: [],
    toClient: Buffer.alloc(0),
    writes: 0,
    closed: false,
  };
  const out = (bytes: Uint8Array) => {
    result.toClient = Buffer.concat([result.toClient, bytes]);
    result.writes++;
  };
  const injector = new FaultInjector(plan, 1, {
    toServer: (message) => result.toServer.push(message),
    toClient: (message) => out(encodeMessage(message)),
    ...(!messagesOnly && { toClientBytes: out }),
    close: () => {
      result.closed = true;
    },
    record: (fault) => result.faults.push(fault),
  });
  for (const step of steps) {
    if (step.from === 'client') injector.fromClient(step.message);
    else injector.fromServer(step.message);
  }
  await vi.runAllTimersAsync();
  return result;
}

const request = (r: Request, reqId: number, txId = 0): Message => {
  const { type, payload } = encodeRequest(r, { reqId, txId });
  return { type, reqId, txId, payload };
};
const reply = (type: number, reqId: number, text: string): Message => ({
  type,
  reqId,
  txId: 0,
  payload: Buffer.from(text),
});
const event = (path: string): Message => watchEventMessage({ path, token: 't' });

function messagesOf(bytes: Buffer): Message[] {
  return new MessageFramer().push(bytes);
}

const paths = ['/a', '/a/b', '/local/domain/1/device/vif/0', 'rel'];
const stepArbitrary: fc.Arbitrary<Step> = fc.oneof(
  fc
    .record({
      op: fc.constantFrom('READ', 'WRITE', 'TRANSACTION_START', 'TRANSACTION_END'),
      path: fc.constantFrom(...paths),
      reqId: fc.nat(20),
    })
    .map(({ op, path, reqId }): Step => {
      const r: Request =
        op === 'WRITE'
          ? { op, path, value: Buffer.from('v') }
          : op === 'READ'
            ? { op, path }
            : op === 'TRANSACTION_END'
              ? { op, commit: true }
              : { op: 'TRANSACTION_START' };
      return { from: 'client', message: request(r, reqId, op === 'TRANSACTION_END' ? 5 : 0) };
    }),
  fc.record({ reqId: fc.nat(20), text: fc.constantFrom('OK\0', 'value', 'x'.repeat(100)) }).map(
    ({ reqId, text }): Step => ({
      from: 'server',
      message: reply(MessageType.READ, reqId, text),
    }),
  ),
  fc.constantFrom(...paths).map((path): Step => ({ from: 'server', message: event(path) })),
);

const specArbitrary: fc.Arbitrary<FaultSpec> = fc
  .record(
    {
      seed: fc.nat(),
      delay: fc.constantFrom('0-3', '1'),
      split: fc.constantFrom('1', '1-9', '16'),
      dropAfter: fc.constantFrom('2-30', '0'),
      resetAfter: fc.constantFrom('1-30'),
      inject: fc.constantFrom(
        ['WRITE:/a:EAGAIN:0.5'],
        ['*:*:EIO:0.2', 'TRANSACTION_END:*:EAGAIN:0.5'],
      ),
      duplicateEvents: fc.constantFrom('0.3', '1'),
      reorderEvents: fc.constantFrom('0.3', '1'),
      stall: fc.constantFrom('0.2:5'),
    },
    { requiredKeys: ['seed'] },
  )
  .filter((spec) => !(spec.dropAfter !== undefined && spec.resetAfter !== undefined));

describe('the fault injector', () => {
  it('applies the same faults to the same messages for the same seed (property)', async () => {
    await fc.assert(
      fc.asyncProperty(
        specArbitrary,
        fc.array(stepArbitrary, { maxLength: 40 }),
        async (spec, steps) => {
          const plan = parseFaultSpec(spec);
          const first = await run(plan, steps);
          const second = await run(plan, steps);
          expect(second.faults).toEqual(first.faults);
          expect(second.toServer).toEqual(first.toServer);
          expect(second.toClient).toEqual(first.toClient);
          expect(second.closed).toBe(first.closed);
        },
      ),
      { numRuns: 40 },
    );
  }, 60_000);

  it('draws other faults from another seed', async () => {
    const steps: Step[] = Array.from({ length: 64 }, (_, i) => ({
      from: 'client',
      message: request({ op: 'WRITE', path: '/a', value: Buffer.from('v') }, i),
    }));
    const injected = async (seed: number) =>
      (await run(parseFaultSpec({ seed, inject: 'WRITE:/a:EAGAIN:0.5' }), steps)).faults.map(
        (f) => f.n,
      );
    const one = await injected(1);
    expect(one.length).toBeGreaterThan(10);
    expect(one.length).toBeLessThan(54);
    expect(await injected(1)).toEqual(one);
    expect(await injected(2)).not.toEqual(one);
  });

  it('answers matching requests with the error instead of forwarding them', async () => {
    const plan = parseFaultSpec({ seed: 1, inject: 'WRITE:/local/domain/*/device/*:EAGAIN' });
    const write = request(
      { op: 'WRITE', path: '/local/domain/1/device/vif/0', value: Buffer.from('x') },
      7,
    );
    const other = request(
      { op: 'WRITE', path: '/local/domain/1/name', value: Buffer.from('x') },
      8,
    );
    const result = await run(plan, [
      { from: 'client', message: write },
      { from: 'client', message: other },
    ]);
    expect(result.toServer).toEqual([other]);
    expect(messagesOf(result.toClient)).toEqual([
      { type: MessageType.ERROR, reqId: 7, txId: 0, payload: Buffer.from('EAGAIN\0') },
    ]);
    expect(result.faults).toEqual([
      expect.objectContaining({
        fault: 'inject',
        dir: 'client-to-server',
        n: 1,
        type: 'WRITE',
        reqId: 7,
        error: 'EAGAIN',
      }),
    ]);
  });

  it('aborts on the server a commit it fails, and hides that abort from the client', async () => {
    const plan = parseFaultSpec({ seed: 1, inject: 'TRANSACTION_END:*:EAGAIN' });
    const commit = request({ op: 'TRANSACTION_END', commit: true }, 3, 9);
    const result = await run(plan, [
      { from: 'client', message: commit },
      { from: 'server', message: { ...reply(MessageType.TRANSACTION_END, 3, 'OK\0'), txId: 9 } },
    ]);
    expect(result.toServer).toEqual([{ ...commit, payload: Buffer.from('F\0') }]);
    expect(messagesOf(result.toClient)).toEqual([
      { type: MessageType.ERROR, reqId: 3, txId: 9, payload: Buffer.from('EAGAIN\0') },
    ]);
    expect(result.faults[0]).toMatchObject({ fault: 'inject', sent: 'abort' });
  });

  it('closes instead of forwarding request N+1 (drop), or tears its reply (reset)', async () => {
    const reads = [1, 2, 3].map((i) => request({ op: 'READ', path: '/a' }, i));
    const dropped = await run(
      parseFaultSpec({ seed: 1, dropAfter: 2 }),
      reads.map((message) => ({ from: 'client', message })),
    );
    expect(dropped.toServer).toEqual(reads.slice(0, 2));
    expect(dropped.closed).toBe(true);
    expect(dropped.faults).toEqual([expect.objectContaining({ fault: 'drop', n: 3, reqId: 3 })]);

    const answer = reply(MessageType.READ, 3, 'a value long enough to tear');
    const reset = await run(parseFaultSpec({ seed: 1, resetAfter: 2 }), [
      ...reads.map((message): Step => ({ from: 'client', message })),
      { from: 'server', message: answer },
    ]);
    expect(reset.toServer).toEqual(reads);
    expect(reset.closed).toBe(true);
    const whole = encodeMessage(answer);
    expect(reset.toClient).toEqual(whole.subarray(0, whole.length >> 1));
    expect(reset.faults).toEqual([expect.objectContaining({ fault: 'reset', n: 3 })]);
  });

  it('splits messages into the recorded chunks, one write each, bytes unchanged', async () => {
    const answers = [
      reply(MessageType.READ, 1, 'hello'),
      event('/a/b'),
      reply(MessageType.READ, 2, 'x'.repeat(50)),
    ];
    const result = await run(
      parseFaultSpec({ seed: 5, split: '1-7' }),
      answers.map((message) => ({ from: 'server', message })),
    );
    expect(result.toClient).toEqual(Buffer.concat(answers.map(encodeMessage)));
    const chunks = result.faults.flatMap((f) => f.chunks ?? []);
    expect(result.faults.map((f) => f.fault)).toEqual(['split', 'split', 'split']);
    expect(chunks.reduce((a, b) => a + b, 0)).toBe(result.toClient.length);
    expect(chunks.every((size) => size >= 1 && size <= 7)).toBe(true);
    expect(result.writes).toBe(chunks.length);
  });

  it('duplicates and reorders watch events, but never moves one past a reply', async () => {
    const steps: Step[] = [
      { from: 'server', message: event('/a') },
      { from: 'server', message: event('/b') },
      { from: 'server', message: reply(MessageType.READ, 1, 'r') },
      { from: 'server', message: event('/c') },
      { from: 'server', message: reply(MessageType.READ, 2, 's') },
    ];
    const reordered = await run(parseFaultSpec({ seed: 1, reorderEvents: 1 }), steps);
    const shown = (r: Run) =>
      messagesOf(r.toClient).map((m) =>
        m.type === MessageType.WATCH_EVENT
          ? Buffer.from(m.payload).toString().split('\0')[0]
          : m.reqId,
      );
    expect(shown(reordered)).toEqual(['/b', '/a', 1, '/c', 2]);
    expect(reordered.faults.map((f) => [f.fault, f.path])).toEqual([
      ['reorder', '/a'],
      ['reorder', '/c'],
    ]);
    const doubled = await run(parseFaultSpec({ seed: 1, duplicateEvents: 1 }), steps);
    expect(shown(doubled)).toEqual(['/a', '/a', '/b', '/b', 1, '/c', '/c', 2]);
  });

  it('delays and stalls without reordering, and records each hold', async () => {
    const answers = [1, 2, 3, 4].map((i) => reply(MessageType.READ, i, String(i)));
    const plan = parseFaultSpec({ seed: 3, delay: '0-20', stall: '0.5:30' });
    const started = performance.now();
    const result = await run(
      plan,
      answers.map((message) => ({ from: 'server', message })),
    );
    expect(messagesOf(result.toClient).map((m) => m.reqId)).toEqual([1, 2, 3, 4]);
    const held = result.faults.reduce((sum, f) => sum + (f.ms ?? 0), 0);
    expect(result.faults.some((f) => f.fault === 'stall')).toBe(true);
    expect(performance.now() - started).toBeGreaterThanOrEqual(Math.min(held, 30));
  });

  it('leaves splitting out where the medium carries messages, not bytes', async () => {
    const answer = reply(MessageType.READ, 1, 'hello');
    const result = await run(
      parseFaultSpec({ seed: 1, split: 1 }),
      [{ from: 'server', message: answer }],
      true,
    );
    expect(result.faults).toEqual([]);
    expect(result.writes).toBe(1);
  });
});
