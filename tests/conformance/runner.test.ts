import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import {
  CATALOGUE,
  CheckFailure,
  type CheckResult,
  checks,
  matchesPattern,
  runConformance,
  SCRATCH_ROOT,
} from '../../src/conformance/index.ts';
import {
  type Message,
  MessageType,
  type TransportConnector,
  XenstoreClient,
} from '../../src/xenstore/index.ts';
import { type MockServer, startMock } from './support.ts';

describe('--only patterns', () => {
  it.each([
    ['watches', 'watches.fires-on-write', true],
    ['watches', 'watchesx.a', false],
    ['watches.fires-on-write', 'watches.fires-on-write', true],
    ['*eacces*', 'permissions.guest-read-none-eacces', true],
    ['tree, *eacces*', 'tree.rm-missing-ok', true],
    ['wire.type-2*', 'wire.type-20-enosys', true],
    ['wire.type-2*', 'wire.type-watch-event-enosys', false],
    ['paths.', 'paths.dot', false],
  ])('%s on %s: %s', (pattern, id, expected) => {
    expect(matchesPattern(id, pattern)).toBe(expected);
  });
});

describe('the runner', () => {
  let mock: MockServer;
  let admin: XenstoreClient;
  beforeEach(async () => {
    mock = await startMock();
    admin = await XenstoreClient.connect({ socketPath: mock.served.socketPath });
  });
  afterEach(async () => {
    await admin.close();
    await mock.stop();
  });

  it('reports passes, failures and skips, in order, as they come', async () => {
    const seen: string[] = [];
    const run = await runConformance(
      { dom0: mock.target.dom0 },
      checks('wire', {
        passes: { rule: 'r', level: 'documented', sources: ['XSA-1'], run: async () => {} },
        fails: {
          rule: 'r',
          level: 'documented',
          sources: ['XSA-1'],
          run: async () => {
            throw new CheckFailure('broken rule');
          },
        },
        'needs-guests': {
          rule: 'r',
          level: 'documented',
          sources: ['XSA-1'],
          needs: ['guests'],
          run: async () => {},
        },
      }),
      { onResult: (result, i, total) => seen.push(`${i + 1}/${total} ${result.check.id}`) },
    );
    expect(run.results.map((r) => [r.check.id, r.outcome, r.message])).toEqual([
      ['wire.passes', 'pass', undefined],
      ['wire.fails', 'fail', 'broken rule'],
      ['wire.needs-guests', 'skip', expect.stringContaining('--guest-socket-template')],
    ]);
    expect(seen).toEqual(['1/3 wire.passes', '2/3 wire.fails', '3/3 wire.needs-guests']);
  });

  it('runs checks with a hazard after all others', async () => {
    const order: string[] = [];
    const spec = (name: string, hazard?: string) => ({
      rule: 'r',
      level: 'c-4.17' as const,
      sources: ['XSA-1'],
      ...(hazard ? { hazard } : {}),
      run: async () => {
        order.push(name);
      },
    });
    await runConformance(
      mock.target,
      checks('tree', { a: spec('a', 'crashes C'), b: spec('b'), c: spec('c') }),
    );
    expect(order).toEqual(['b', 'c', 'a']);
  });

  it('gives each check a fresh scratch node and undoes what it did', async () => {
    const bases: string[] = [];
    const run = await runConformance(
      mock.target,
      checks('domains', {
        dirty: {
          rule: 'r',
          level: 'c-4.17',
          sources: ['XSA-1'],
          needs: ['guests'],
          async run(t) {
            bases.push(t.base);
            expect(await (await t.admin()).directory(t.base)).toEqual([]);
            await (await t.admin()).write(t.path('x'), 'left behind');
            const guest = await t.guest();
            await guest.conn.write('mine', '1');
          },
        },
      }),
    );
    expect(run.results[0]!.outcome).toBe('pass');
    expect(bases).toEqual([`${SCRATCH_ROOT}/c1`]);
    await expect(admin.read(SCRATCH_ROOT)).rejects.toMatchObject({ code: 'ENOENT' });
    await expect(admin.read('/local/domain/1')).rejects.toMatchObject({ code: 'ENOENT' });
    expect(await admin.isDomainIntroduced(1)).toBe(false);
  });

  it('fails a check that outlives its time', async () => {
    const run = await runConformance(
      { dom0: mock.target.dom0 },
      checks('wire', {
        hangs: {
          rule: 'r',
          level: 'documented',
          sources: ['XSA-1'],
          run: () => new Promise(() => {}),
        },
      }),
      { checkTimeoutMs: 100 },
    );
    expect(run.results[0]).toMatchObject({
      outcome: 'fail',
      message: expect.stringContaining('longer than 100 ms'),
    });
  });

  it('reports a failing undo step', async () => {
    const run = await runConformance(
      { dom0: mock.target.dom0 },
      checks('wire', {
        'bad-undo': {
          rule: 'r',
          level: 'documented',
          sources: ['XSA-1'],
          async run(t) {
            t.defer(async () => {
              throw new Error('could not undo');
            });
          },
        },
      }),
    );
    expect(run.results[0]).toMatchObject({
      outcome: 'fail',
      message: 'cleaning up: undoing a step: could not undo',
    });
  });

  it('fails the remaining checks without running them once the server is gone', async () => {
    let ranAfter = false;
    const run = await runConformance(
      { dom0: mock.target.dom0, replyTimeoutMs: 500 },
      checks('wire', {
        kills: {
          rule: 'r',
          level: 'documented',
          sources: ['XSA-1'],
          run: () => mock.served.close(),
        },
        later: {
          rule: 'r',
          level: 'documented',
          sources: ['XSA-1'],
          async run() {
            ranAfter = true;
          },
        },
      }),
    );
    expect(run.serverLost).toBe('the server stopped answering after wire.kills');
    expect(run.results[1]).toMatchObject({
      outcome: 'fail',
      message: `not run: ${run.serverLost}`,
    });
    expect(ranAfter).toBe(false);
  });

  it('refuses fewer than three guest domids', async () => {
    await expect(
      runConformance({ ...mock.target, guestDomids: [1, 2] }, CATALOGUE),
    ).rejects.toThrow(/three guest domids/);
  });
});

/** Passes every message on, but answers ENOENT as EACCES: a server breaking one rule. */
function enoentAsEacces(connector: TransportConnector): TransportConnector {
  return (handlers) =>
    connector({
      ...handlers,
      onMessage(message: Message) {
        const text = Buffer.from(message.payload).toString('latin1');
        handlers.onMessage(
          message.type === MessageType.ERROR && text === 'ENOENT\0'
            ? { ...message, payload: Buffer.from('EACCES\0') }
            : message,
        );
      },
    });
}

describe('checks against a server that breaks their rule', () => {
  let mock: MockServer;
  beforeEach(async () => {
    mock = await startMock();
  });
  afterEach(async () => {
    await mock.stop();
  });

  const selection =
    'tree.read-missing-enoent,tree.rm-missing-parent-enoent,transactions.abort-discards';
  const outcomes = (results: readonly CheckResult[]) => results.map((r) => [r.check.id, r.outcome]);

  it('pass against the honest server', async () => {
    const run = await runConformance(mock.target, CATALOGUE, { only: selection });
    expect(outcomes(run.results)).toEqual([
      ['tree.read-missing-enoent', 'pass'],
      ['tree.rm-missing-parent-enoent', 'pass'],
      ['transactions.abort-discards', 'pass'],
    ]);
  });

  it('fail, saying what came instead', async () => {
    const run = await runConformance(
      { ...mock.target, dom0: enoentAsEacces(mock.target.dom0) },
      CATALOGUE,
      { only: selection },
    );
    expect(outcomes(run.results)).toEqual([
      ['tree.read-missing-enoent', 'fail'],
      ['tree.rm-missing-parent-enoent', 'fail'],
      ['transactions.abort-discards', 'fail'],
    ]);
    expect(run.results[0]!.message).toBe('dom0: READ expected ENOENT, got ERROR "EACCES\\u0000"');
  });
});
