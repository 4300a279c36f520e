import { once } from 'node:events';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { devicePaths, XenbusBackend, XenbusError, XenbusFrontend } from '../../src/xenbus/index.ts';
import type { XenstoreClient } from '../../src/xenstore/index.ts';
import { deviceHost } from './support/device-host.ts';

/** Each end's limit per wait: a hang would show as a settled ETIMEDOUT long before the guard. */
const TIMEOUT_MS = 1500;
/** A handshake not settled by then has hung: the library's own limits are far shorter. */
const HANG_GUARD_MS = 20_000;

/**
 * The client with every call made to wait first: 0-3 macrotask turns, or a short timer, taken
 * in turn from `delays`. Both ends' xenstore requests so interleave in the orders the schedule
 * picks.
 */
function delayed(client: XenstoreClient, delays: readonly number[]): XenstoreClient {
  let next = 0;
  const pause = async (): Promise<void> => {
    const delay = delays[next++ % delays.length] ?? 0;
    if (delay < 4) for (let i = 0; i < delay; i++) await new Promise(setImmediate);
    else await new Promise((resolve) => setTimeout(resolve, delay - 3));
  };
  return new Proxy(client, {
    get(target, property) {
      const value = Reflect.get(target, property, target);
      if (typeof value !== 'function') return value;
      return async (...args: unknown[]) => {
        await pause();
        return value.apply(target, args);
      };
    },
  });
}

/** Something going wrong at a random moment of the handshake, or nothing. */
type Fault =
  | { kind: 'none' }
  | { kind: 'destroy-frontend'; afterMs: number }
  | { kind: 'frontend-state'; afterMs: number; state: number }
  | { kind: 'backend-state'; afterMs: number; state: number }
  | { kind: 'remove-device'; afterMs: number };

const fault: fc.Arbitrary<Fault> = fc.oneof(
  { weight: 3, arbitrary: fc.constant<Fault>({ kind: 'none' }) },
  fc.record({
    kind: fc.constant('destroy-frontend' as const),
    afterMs: fc.integer({ min: 0, max: 20 }),
  }),
  fc.record({
    kind: fc.constant('frontend-state' as const),
    afterMs: fc.integer({ min: 0, max: 20 }),
    state: fc.integer({ min: 0, max: 9 }),
  }),
  fc.record({
    kind: fc.constant('backend-state' as const),
    afterMs: fc.integer({ min: 0, max: 20 }),
    state: fc.integer({ min: 0, max: 9 }),
  }),
  fc.record({
    kind: fc.constant('remove-device' as const),
    afterMs: fc.integer({ min: 0, max: 20 }),
  }),
);

/** How an end's handshake ended: connected, or a typed error's code. */
async function outcome(attempt: Promise<unknown>): Promise<string> {
  try {
    await attempt;
    return 'connected';
  } catch (error) {
    const code = (error as { code?: unknown }).code;
    expect(typeof code, String(error)).toBe('string');
    if (error instanceof XenbusError) return code as string;
    return `platform:${String(code)}`;
  }
}

function guard<T>(promise: Promise<T>, what: string): Promise<T> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const hung = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`${what} hung`)), HANG_GUARD_MS);
  });
  return Promise.race([promise, hung]).finally(() => clearTimeout(timer));
}

describe('the handshake under random interleavings', () => {
  it('always ends Connected on both sides, or in a typed error, and closes', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.array(fc.integer({ min: 0, max: 6 }), { minLength: 1, maxLength: 24 }),
        fc.array(fc.integer({ min: 0, max: 6 }), { minLength: 1, maxLength: 24 }),
        fc.boolean(),
        fault,
        async (frontDelays, backDelays, backendFirst, injected) => {
          const env = await deviceHost();
          try {
            const { host } = env;
            const paths = devicePaths(env.id);
            const openFront = () =>
              XenbusFrontend.open({
                client: delayed(host.guest(1).client, frontDelays),
                platform: env.platformOf(1),
                type: env.id.type,
                timeoutMs: TIMEOUT_MS,
              });
            const openBack = () =>
              XenbusBackend.open({
                client: delayed(host.dom0Client, backDelays),
                platform: env.dom0,
                type: env.id.type,
                frontendDomid: 1,
                timeoutMs: TIMEOUT_MS,
              });
            const run = async <T extends XenbusFrontend | XenbusBackend>(
              open: () => Promise<T>,
            ) => {
              const end = await open();
              return { end, result: await outcome(end.connect()) };
            };
            const sides = backendFirst
              ? [run(openBack), run(openFront)]
              : [run(openFront), run(openBack)];
            const trouble = injectFault(injected, env.host, paths);
            const settled = await guard(
              Promise.allSettled(sides),
              `handshake ${JSON.stringify({ frontDelays, backDelays, injected })}`,
            );
            await trouble;
            const results = settled.map((s) =>
              s.status === 'fulfilled' ? s.value.result : `open:${(s.reason as XenbusError).code}`,
            );
            for (const result of results) {
              expect(result).toMatch(/^(connected|E[A-Z]+|platform:E[A-Z]+|open:E[A-Z]+)$/);
            }
            if (injected.kind === 'none') expect(results).toEqual(['connected', 'connected']);
            // Whatever happened, closing ends both sides: nothing waits forever.
            await guard(
              Promise.all(
                settled.map(async (s) => {
                  if (s.status !== 'fulfilled') return;
                  const closed = s.value.end.connection ? once(s.value.end, 'closed') : undefined;
                  await s.value.end.close().catch(() => {});
                  await closed;
                }),
              ),
              'close',
            );
          } finally {
            await env.close();
          }
        },
      ),
      { numRuns: 40 },
    );
  }, 120_000);
});

async function injectFault(
  injected: Fault,
  host: Awaited<ReturnType<typeof deviceHost>>['host'],
  paths: ReturnType<typeof devicePaths>,
): Promise<void> {
  if (injected.kind === 'none') return;
  await new Promise((resolve) => setTimeout(resolve, injected.afterMs));
  const dom0 = host.dom0Client;
  switch (injected.kind) {
    case 'destroy-frontend':
      await host.destroyDomain(1);
      return;
    case 'frontend-state':
      await dom0.write(`${paths.frontend}/state`, String(injected.state)).catch(() => {});
      return;
    case 'backend-state':
      await dom0.write(`${paths.backend}/state`, String(injected.state)).catch(() => {});
      return;
    case 'remove-device':
      await dom0.rm(paths.frontend).catch(() => {});
      await dom0.rm(paths.backend).catch(() => {});
      return;
  }
}
