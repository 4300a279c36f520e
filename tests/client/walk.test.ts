import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import type { RequestOptions } from '../../src/xenstore/client/node-operations.ts';
import { type WalkEntry, type WalkSource, walkTree } from '../../src/xenstore/client/walk.ts';
import { XenstoreClient } from '../../src/xenstore/client.ts';
import { XenstoreError } from '../../src/xenstore/errors.ts';
import { XenstoreServer } from '../../src/xenstore/server.ts';
import { inProcessConnector } from '../../src/xenstore/transport/in-process.ts';
import { rejection } from './expectations.ts';

/** Trees as sets of written paths below /t, each with a value. */
const name = fc.constantFrom('a', 'b', 'c', 'dd', 'e-1');
const tree = fc.dictionary(
  fc.array(name, { minLength: 1, maxLength: 4 }).map((parts) => `/t/${parts.join('/')}`),
  fc.string({ maxLength: 6 }),
  { maxKeys: 20 },
);

/** Every node the store then has below /t, with /t: the written ones and their parents. */
function expectedNodes(written: Record<string, string>): Map<string, string> {
  const nodes = new Map([['/t', '']]);
  for (const path of Object.keys(written)) {
    for (let at = path.indexOf('/', 1); at > 0; at = path.indexOf('/', at + 1)) {
      if (!nodes.has(path.slice(0, at))) nodes.set(path.slice(0, at), '');
    }
  }
  for (const [path, value] of Object.entries(written)) nodes.set(path, value);
  return nodes;
}

describe('walk', () => {
  it('yields every node of the subtree once, before its children, with its value and children', async () => {
    await fc.assert(
      fc.asyncProperty(tree, async (written) => {
        const server = new XenstoreServer();
        const xs = await XenstoreClient.connect({ transport: inProcessConnector(server) });
        try {
          await xs.mkdir('/t');
          for (const [path, value] of Object.entries(written)) await xs.write(path, value);
          const nodes = expectedNodes(written);
          const seen: WalkEntry[] = [];
          for await (const entry of xs.walk('/t')) seen.push(entry);
          expect(seen.map((e) => e.path).sort()).toEqual([...nodes.keys()].sort());
          const position = new Map(seen.map((entry, i) => [entry.path, i]));
          for (const { path, value, children } of seen) {
            expect(value.toString(), path).toBe(nodes.get(path));
            const parent = path.slice(0, path.lastIndexOf('/'));
            if (path !== '/t') expect(position.get(parent)!).toBeLessThan(position.get(path)!);
            expect([...children].sort()).toEqual(
              [...nodes.keys()]
                .filter((p) => p.slice(0, p.lastIndexOf('/')) === path)
                .map((p) => p.slice(path.length + 1))
                .sort(),
            );
            // Depth first: a node's subtree is contiguous.
            const subtree = seen.filter((e) => e.path === path || e.path.startsWith(`${path}/`));
            const start = position.get(path)!;
            expect(subtree.map((e) => position.get(e.path))).toEqual(
              subtree.map((_, i) => start + i),
            );
          }
        } finally {
          await xs.close();
          server.close();
        }
      }),
      { numRuns: 60 },
    );
  });

  it('leaves out a node removed after its parent was listed, and asks a level at once', async () => {
    // A tree whose /t/b disappears between the listing of /t and the read of /t/b.
    const values: Record<string, string> = { '/t': '', '/t/a': '1', '/t/c': '3', '/t/c/d': '4' };
    const listing: Record<string, string[]> = { '/t': ['a', 'b', 'c'], '/t/a': [], '/t/c': ['d'] };
    let inFlight = 0;
    let mostInFlight = 0;
    const answer = <T>(path: string, value: T | undefined): Promise<T> => {
      inFlight++;
      mostInFlight = Math.max(mostInFlight, inFlight);
      return new Promise((resolve, reject) =>
        setImmediate(() => {
          inFlight--;
          if (value === undefined) reject(new XenstoreError('ENOENT', { op: 'READ', path }));
          else resolve(value);
        }),
      );
    };
    const source: WalkSource = {
      read: (path: string, _options?: RequestOptions) =>
        answer(path, values[path] === undefined ? undefined : Buffer.from(values[path])),
      directory: (path: string) => answer(path, listing[path] ?? (values[path] ? [] : undefined)),
    };
    const seen: string[] = [];
    for await (const entry of walkTree(source, '/t', undefined)) seen.push(entry.path);
    expect(seen).toEqual(['/t', '/t/a', '/t/c', '/t/c/d']);
    // /t/a, /t/b and /t/c were each asked for value and children together: 6 requests.
    expect(mostInFlight).toBe(6);
  });

  it('stops asking once the caller stops, and throws what is not absence', async () => {
    const server = new XenstoreServer();
    const xs = await XenstoreClient.connect({ transport: inProcessConnector(server) });
    for (let i = 0; i < 10; i++) await xs.write(`/t/n${i}/leaf`, `${i}`);
    const first: string[] = [];
    for await (const entry of xs.walk('/t')) {
      first.push(entry.path);
      if (first.length === 2) break;
    }
    expect(first).toEqual(['/t', '/t/n0']);
    // A guest may read /t but not /t/n3: the walk fails there, it does not skip it.
    for (const path of [
      '/t',
      ...Array.from({ length: 10 }, (_, i) => [`/t/n${i}`, `/t/n${i}/leaf`]).flat(),
    ]) {
      await xs.setPermissions(path, [{ access: path === '/t/n3' ? 'n' : 'r', domid: 0 }]);
    }
    const guest = await XenstoreClient.connect({ transport: inProcessConnector(server, 5) });
    const walked: string[] = [];
    const denied = await rejection(
      (async () => {
        for await (const entry of guest.walk('/t')) walked.push(entry.path);
      })(),
    );
    expect([denied.code, denied.path]).toEqual(['EACCES', '/t/n3']);
    expect(walked).toContain('/t/n2/leaf');
    expect(walked).not.toContain('/t/n4');
    await guest.close();
    await xs.close();
    expect((await rejection(xs.walk('/t').next())).code).toBe('ECONNRESET');
    server.close();
  });
});
