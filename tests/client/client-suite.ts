import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { XenstoreWatchEvent } from '../../src/xenstore/client/watch.ts';
import { XenstoreClient, type XenstoreClientOptions } from '../../src/xenstore/client.ts';
import type { XenstoreError } from '../../src/xenstore/errors.ts';
import type { Backend, RunningBackend } from './backends.ts';
import { rejection, until } from './expectations.ts';

/**
 * How much slower than the host the suite runs: the Xen lane sets it for Dom0, where requests
 * take 10-20x longer under emulation. Scales the limits of the longest tests only.
 */
const SLOWDOWN = Number(process.env.XENWIRE_TEST_SLOWDOWN ?? 1);

/**
 * Increments per connection in the contention test. The Xen lane lowers it: under emulation 4,000
 * contended transactions cost minutes of Dom0's budget, and 400 still make 8 connections collide.
 */
const INCREMENTS = Number(process.env.XENWIRE_TEST_INCREMENTS ?? 500);

/**
 * The client's behaviour against one server. The same cases run against every backend, so a
 * difference between the in-memory and the C xenstored shows up as a failure on one of them.
 */
export function describeClientSuite(backend: Backend): void {
  if (backend.unavailable) {
    console.warn(
      `\n*** SKIPPING the client suite against ${backend.name}: ${backend.unavailable}\n`,
    );
  }
  describe.skipIf(backend.unavailable !== undefined)(`client against ${backend.name}`, () => {
    let server: RunningBackend;
    let xs: XenstoreClient;
    let root: string;
    let privileged: boolean;
    let counter = 0;
    const fresh = (): string => `${root}/n${counter++}`;
    const connect = (options: XenstoreClientOptions = {}) =>
      XenstoreClient.connect({ transport: server.connector, ...options });

    beforeAll(async () => {
      server = await backend.start();
      root = server.root;
      xs = await connect();
      privileged =
        server.privileged ??
        (await xs.isDomainIntroduced(0).then(
          () => true,
          () => false,
        ));
      await xs.rm(root);
      await xs.mkdir(root);
    });
    afterAll(async () => {
      await xs?.rm(root).catch(() => {});
      await xs?.close();
      await server?.stop();
    });

    it('writes and reads strings and raw bytes', async () => {
      const path = fresh();
      await xs.write(path, 'héllo');
      expect(await xs.readString(path)).toBe('héllo');
      const bytes = Uint8Array.from([0, 1, 255, 0, 42]);
      await xs.write(path, bytes);
      expect([...(await xs.read(path))]).toEqual([...bytes]);
      await xs.write(path, '');
      expect((await xs.read(path)).length).toBe(0);
    });

    it('reports a missing node as ENOENT naming the operation and path', async () => {
      const path = `${fresh()}/missing`;
      const error = await rejection(xs.read(path));
      expect([error.code, error.op, error.path]).toEqual(['ENOENT', 'READ', path]);
      expect(await xs.exists(path)).toBe(false);
    });

    it('refuses bad input locally with EINVAL, without a round trip', async () => {
      for (const path of ['', '/a//b', '/a/', '/a b', '@special']) {
        expect((await rejection(xs.read(path))).code).toBe('EINVAL');
      }
      expect((await rejection(xs.getDomainPath(-1))).code).toBe('EINVAL');
      expect((await rejection(xs.getDomainPath(0x10000))).code).toBe('EINVAL');
      expect((await rejection(xs.introduceDomain(3, 1, -3))).code).toBe('EINVAL');
      expect((await rejection(xs.setQuota('nodes', 1.5))).code).toBe('EINVAL');
      expect((await rejection(xs.watch(fresh(), { depth: -1 }))).code).toBe('EINVAL');
      expect((await rejection(xs.control([]))).code).toBe('EINVAL');
      expect((await rejection(xs.setPermissions(fresh(), []))).code).toBe('EINVAL');
      const owner = [{ access: 'n', domid: 0 }] as const;
      expect((await rejection(xs.setPermissions('@other', owner))).code).toBe('EINVAL');
      const tooBig = await rejection(xs.write(fresh(), Buffer.alloc(5000)));
      expect(tooBig.code).toBe('E2BIG');
      expect(xs.pendingRequests).toBe(0);
    });

    it('creates, lists and removes nodes', async () => {
      const dir = fresh();
      await xs.mkdir(`${dir}/a`);
      await xs.write(`${dir}/b/c`, 'x');
      expect((await xs.directory(dir)).sort()).toEqual(['a', 'b']);
      expect(await xs.exists(`${dir}/b/c`)).toBe(true);
      await xs.rm(`${dir}/b`);
      expect(await xs.exists(`${dir}/b/c`)).toBe(false);
      expect(await xs.directory(dir)).toEqual(['a']);
      expect(await xs.readString(`${dir}/a`)).toBe('');
    });

    it('lists a directory too large for one reply, slice by slice', async () => {
      const dir = fresh();
      const names = Array.from({ length: 200 }, (_, i) => `child-with-a-long-name-${i}`);
      await Promise.all(names.map((name) => xs.write(`${dir}/${name}`, '')));
      expect((await xs.directory(dir)).sort()).toEqual([...names].sort());
    });

    it('reads and replaces permissions', async (context) => {
      if (!privileged) context.skip('gives the node to dom0');
      const path = fresh();
      await xs.write(path, 'x');
      const perms = [
        { access: 'n', domid: 0 },
        { access: 'r', domid: 0 },
      ] as const;
      await xs.setPermissions(path, perms);
      expect(await xs.getPermissions(path)).toEqual(perms);
    });

    it('answers domain queries', async (context) => {
      if (!privileged) context.skip('needs dom0');
      expect(await xs.isDomainIntroduced(0)).toBe(true);
      expect(await xs.getDomainPath(0)).toBe('/local/domain/0');
      expect(await xs.getDomainPath(7)).toBe('/local/domain/7');
    });

    it('introduces, queries, resumes and releases a domain', async (context) => {
      if (!server.prepareGuest) context.skip('may not create domains here');
      const domid = 21;
      const guest = await server.prepareGuest!(domid, 21);
      const introductions = await xs.watch('@introduceDomain');
      const seen = introductions[Symbol.asyncIterator]();
      expect((await seen.next()).value?.path).toBe('@introduceDomain');
      expect(await xs.isDomainIntroduced(domid)).toBe(false);
      await xs.introduceDomain(domid, guest.gfn, guest.port);
      expect((await seen.next()).value?.path).toBe('@introduceDomain');
      expect(await xs.isDomainIntroduced(domid)).toBe(true);
      expect(await xs.getDomainPath(domid)).toBe(`/local/domain/${domid}`);
      await xs.resumeDomain(domid);
      await xs.setTarget(domid, 0);
      await xs.releaseDomain(domid);
      expect(await xs.isDomainIntroduced(domid)).toBe(false);
      expect((await rejection(xs.releaseDomain(domid))).code).toBe('ENOENT');
      await introductions.close();
    });

    it('returns GET_FEATURE and GET_QUOTA answers, or the server’s ENOSYS', async () => {
      const outcome = (p: Promise<unknown>) =>
        p.then(
          (value) => typeof value,
          (error: XenstoreError) => error.code,
        );
      expect(['number', 'ENOSYS']).toContain(await outcome(xs.getFeature()));
      expect(['object', 'ENOSYS', 'EACCES']).toContain(await outcome(xs.listQuotas()));
    });

    it('keeps 1,000 requests in flight with watch events interleaved, all matched', async () => {
      const base = fresh();
      const values = Array.from({ length: 500 }, (_, i) => `value-${i}-${'x'.repeat(i % 37)}`);
      await Promise.all(values.map((value, i) => xs.write(`${base}/r/${i}`, value)));
      await xs.mkdir(`${base}/w`);
      const watch = await xs.watch(`${base}/w`);
      const seen: string[] = [];
      watch.on('event', (event) => seen.push(event.path));
      const requests: Promise<void>[] = [];
      for (let i = 0; i < 1000; i++) {
        const k = i >> 1;
        requests.push(
          i % 2 === 0
            ? xs.readString(`${base}/r/${k}`).then((v) => expect(v).toBe(values[k]))
            : xs.write(`${base}/w/${k}`, String(k)),
        );
      }
      expect(xs.pendingRequests).toBe(1000);
      await Promise.all(requests);
      await until(() => seen.length === 501);
      expect(seen[0]).toBe(`${base}/w`);
      expect(new Set(seen.slice(1))).toEqual(new Set(values.map((_, k) => `${base}/w/${k}`)));
      await watch.close();
    });

    it('delivers the registration event, then changes, and nothing once unwatched', async () => {
      const path = fresh();
      const watch = await xs.watch(path);
      const events = watch[Symbol.asyncIterator]();
      expect((await events.next()).value).toMatchObject({ path, overflowed: false });
      await xs.write(`${path}/a`, '1');
      expect((await events.next()).value).toMatchObject({ path: `${path}/a` });
      // Fire, then unwatch at once: whatever the server already sent must not get through.
      const writes = [xs.write(`${path}/b`, '1'), xs.write(`${path}/c`, '1')];
      await xs.unwatch(watch);
      await Promise.all(writes);
      await xs.write(`${path}/d`, '1');
      expect(await events.next()).toEqual({ value: undefined, done: true });
      expect(watch.active).toBe(false);
    });

    it('bounds the queue of a watch nobody reads, and flags what was dropped', async () => {
      const path = fresh();
      const watch = await xs.watch(path, { queueCapacity: 4 });
      await Promise.all(Array.from({ length: 20 }, (_, i) => xs.write(`${path}/c${i}`, '')));
      await until(() => watch.dropped === 17);
      expect(watch.queued).toBe(4);
      const events = watch[Symbol.asyncIterator]();
      const got: XenstoreWatchEvent[] = [];
      for (let i = 0; i < 4; i++) got.push((await events.next()).value);
      expect(got.map((e) => [e.path, e.overflowed])).toEqual([
        [`${path}/c16`, true],
        [`${path}/c17`, false],
        [`${path}/c18`, false],
        [`${path}/c19`, false],
      ]);
      await watch.close();
    });

    it('gives each watch its own token and events', async () => {
      const a = fresh();
      const b = fresh();
      const [wa, wb] = await Promise.all([xs.watch(a), xs.watch(b)]);
      expect(wa.token).not.toBe(wb.token);
      const seenA: string[] = [];
      const seenB: string[] = [];
      wa.on('event', (e) => seenA.push(e.path));
      wb.on('event', (e) => seenB.push(e.path));
      await xs.write(`${b}/x`, '1');
      await until(() => seenB.length === 2);
      await xs.write(`${a}/y`, '1');
      await until(() => seenA.length === 2);
      expect(seenA).toEqual([a, `${a}/y`]);
      expect(seenB).toEqual([b, `${b}/x`]);
      await Promise.all([wa.close(), wb.close()]);
    });

    it('ends a watch through its AbortSignal and through break', async () => {
      const path = fresh();
      const controller = new AbortController();
      const watch = await xs.watch(path, { signal: controller.signal });
      const got: XenstoreWatchEvent[] = [];
      for await (const event of watch) {
        got.push(event);
        controller.abort();
      }
      expect(got.map((e) => e.path)).toEqual([path]);
      expect(watch.active).toBe(false);

      const second = await xs.watch(path);
      for await (const event of second) {
        expect(event.path).toBe(path);
        break;
      }
      expect(second.active).toBe(false);
      expect((await rejection(xs.watch(path, { signal: AbortSignal.abort() }))).code).toBe(
        'ABORT_ERR',
      );
    });

    it('commits, aborts and detects conflicts in transactions', async () => {
      const path = fresh();
      await xs.write(path, 'before');
      const tx = await xs.transactionStart();
      await tx.write(path, 'inside');
      expect(await tx.readString(path)).toBe('inside');
      expect(await xs.readString(path)).toBe('before');
      await tx.commit();
      expect(await xs.readString(path)).toBe('inside');
      expect(tx.active).toBe(false);
      expect((await rejection(tx.read(path))).code).toBe('EINVAL');

      const discarded = await xs.transactionStart();
      await discarded.write(path, 'discarded');
      await xs.transactionEnd(discarded, false);
      expect(await xs.readString(path)).toBe('inside');

      const conflicted = await xs.transactionStart();
      await conflicted.readString(path);
      await conflicted.write(path, 'loser');
      await xs.write(path, 'winner');
      expect((await rejection(conflicted.commit())).code).toBe('EAGAIN');
      expect(await xs.readString(path)).toBe('winner');
    });

    it('aborts the transaction when the body throws, and returns the body’s value', async () => {
      const path = fresh();
      await xs.write(path, '0');
      const failure = new Error('changed my mind');
      await expect(
        xs.transaction(async (tx) => {
          await tx.write(path, '1');
          throw failure;
        }),
      ).rejects.toBe(failure);
      expect(await xs.readString(path)).toBe('0');
      expect(await xs.transaction(async (tx) => tx.readString(path))).toBe('0');
    });

    it(
      `counts to exactly ${8 * INCREMENTS} with 8 connections × ${INCREMENTS} transactional increments`,
      async () => {
        const path = fresh();
        await xs.write(path, '0');
        const clients = await Promise.all(Array.from({ length: 8 }, () => connect()));
        try {
          await Promise.all(
            clients.map(async (client) => {
              for (let i = 0; i < INCREMENTS; i++) {
                // What is checked is atomicity, not the default retry policy. Its back-off ceiling
                // (100 ms) is below one attempt's four round trips on a slow machine (Xen's Dom0
                // under emulation), where jitter then no longer spreads 8 contenders: roughly, each
                // attempt wins 1 time in 8, and (7/8)^32 ≈ 1.4% of 4,000 transactions would exhaust
                // 32 attempts. A wider ceiling spreads them again; the bound stays.
                await client.transaction(
                  async (tx) => {
                    const n = Number(await tx.readString(path));
                    await tx.write(path, String(n + 1));
                  },
                  { maxAttempts: 200, maxBackoff: 500 },
                );
              }
            }),
          );
        } finally {
          await Promise.all(clients.map((client) => client.close()));
        }
        expect(await xs.readString(path)).toBe(String(8 * INCREMENTS));
      },
      80_000 * SLOWDOWN,
    );

    it('rejects pending requests with ECONNRESET and ends watches when closed', async () => {
      const client = await connect();
      const path = fresh();
      const watch = await client.watch(path);
      const pending = client.read(`${path}/never-written`);
      const closed = new Promise((resolve) => watch.once('close', resolve));
      await client.close();
      expect((await rejection(pending)).code).toBe('ECONNRESET');
      expect(await closed).toBeUndefined();
      expect((await rejection(client.read(path))).code).toBe('ECONNRESET');
      expect(client.open).toBe(false);
    });

    it('resolves relative paths against the caller’s home', async () => {
      const relative = `${privileged ? 'data/xenwire-client-test' : root}/rel${counter++}`;
      await xs.write(relative, 'here');
      const home = await xs.getDomainPath(0);
      if (privileged) expect(await xs.readString(`${home}/${relative}`)).toBe('here');
      const watch = await xs.watch(relative);
      const first = await watch[Symbol.asyncIterator]().next();
      expect(first.value?.path).toBe(relative);
      await watch.close();
      await xs.rm(relative);
    });

    it('runs CONTROL commands', async (context) => {
      if (!privileged) context.skip('needs dom0');
      const answer = await xs.control(['print', 'xenwire']).then(
        (value) => value,
        (error: XenstoreError) => error.code,
      );
      expect(answer instanceof Buffer || answer === 'ENOSYS').toBe(true);
      // The daemon's answer ends with a NUL the caller does not get.
      if (answer instanceof Buffer) expect(answer.toString('latin1')).toBe('OK');
    });

    it('walks a subtree depth first, each node before its children, with values', async () => {
      const top = fresh();
      const written = new Map([
        [top, ''],
        [`${top}/a`, '1'],
        [`${top}/a/x`, 'ax'],
        [`${top}/a/y`, ''],
        [`${top}/b`, '2'],
        [`${top}/b/c/d`, 'deep'],
      ]);
      for (const [path, value] of written) await xs.write(path, value);
      written.set(`${top}/b/c`, ''); // made as the parent of d
      const seen: string[] = [];
      for await (const { path, value, children } of xs.walk(top)) {
        expect(value.toString(), path).toBe(written.get(path));
        const below = [...written.keys()].filter((p) => p.startsWith(`${path}/`));
        expect([...children].sort(), path).toEqual(
          below
            .filter((p) => !p.slice(path.length + 1).includes('/'))
            .map((p) => p.slice(path.length + 1))
            .sort(),
        );
        if (path !== top) expect(seen, path).toContain(path.slice(0, path.lastIndexOf('/')));
        seen.push(path);
      }
      expect(seen.sort()).toEqual([...written.keys()].sort());
      // In a transaction, the walk sees the transaction's tree.
      const inside = await xs.transaction(async (tx) => {
        await tx.rm(`${top}/b`);
        const paths: string[] = [];
        for await (const entry of tx.walk(top)) paths.push(entry.path);
        return paths;
      });
      expect(inside.sort()).toEqual([top, `${top}/a`, `${top}/a/x`, `${top}/a/y`]);
      const missing = await rejection(xs.walk(`${top}/none`).next());
      expect([missing.code, missing.path]).toEqual(['ENOENT', `${top}/none`]);
    });

    it('reads a missing node as the default given, and only a missing one', async () => {
      const path = fresh();
      expect(await xs.read(path, { default: undefined })).toBeUndefined();
      expect(await xs.readString(path, { default: 'unset' })).toBe('unset');
      expect(await xs.readString(path, { default: null })).toBeNull();
      await xs.write(path, 'set');
      expect(await xs.readString(path, { default: 'unset' })).toBe('set');
      expect((await xs.read(path, { default: 0 })).toString()).toBe('set');
      // Other failures are not taken for absence.
      expect((await rejection(xs.readString('/bad//path', { default: 'x' }))).code).toBe('EINVAL');
    });

    it('aborts a transaction held with await using unless it was committed', async () => {
      const path = fresh();
      await xs.write(path, 'before');
      const failure = new Error('left early');
      await expect(
        (async () => {
          await using tx = await xs.transactionStart();
          await tx.write(path, 'discarded');
          throw failure;
        })(),
      ).rejects.toBe(failure);
      expect(await xs.readString(path)).toBe('before');
      let kept: { active: boolean } | undefined;
      {
        await using tx = await xs.transactionStart();
        await tx.write(path, 'kept');
        await tx.commit();
        kept = tx;
      }
      expect(kept.active).toBe(false);
      expect(await xs.readString(path)).toBe('kept');
    });

    it('waits for a node to exist, to hold a value, to pass a test, and gives up when aborted', async () => {
      const path = fresh();
      const created = xs.wait(path);
      const ready = xs.wait(path, 'ready');
      const large = xs.wait(path, (value) => Number(value?.toString()) > 10);
      await xs.write(path, 'starting');
      expect((await created)?.toString()).toBe('starting');
      await xs.write(path, 'ready');
      expect((await ready)?.toString()).toBe('ready');
      await xs.write(path, '11');
      expect((await large)?.toString()).toBe('11');
      // Already true: resolves on the registration event.
      expect((await xs.wait(path, '11'))?.toString()).toBe('11');
      const removed = xs.wait(path, (value) => value === undefined);
      await xs.rm(path);
      expect(await removed).toBeUndefined();
      const controller = new AbortController();
      const never = xs.wait(path, 'never', { signal: controller.signal });
      controller.abort();
      const aborted = await rejection(never);
      expect([aborted.code, aborted.name, aborted.path]).toEqual(['ABORT_ERR', 'AbortError', path]);
    });

    it('refuses changes with EROFS on a read-only client, before sending them', async () => {
      const path = fresh();
      await xs.write(path, 'kept');
      const reader = await connect({ readOnly: true });
      try {
        expect(await reader.readString(path)).toBe('kept');
        expect(await reader.directory(root)).toContain(path.slice(root.length + 1));
        for (const refused of [
          reader.write(path, 'changed'),
          reader.mkdir(`${path}/child`),
          reader.rm(path),
          reader.setPermissions(path, [{ access: 'n', domid: 0 }]),
          reader.control(['print', 'x']),
          reader.releaseDomain(7),
          reader.transaction((tx) => tx.write(path, 'in a transaction')),
        ]) {
          const error = await rejection(refused);
          expect([error.code, error.errno]).toEqual(['EROFS', 30]);
        }
        expect(reader.pendingRequests).toBe(0);
        const watch = await reader.watch(path);
        await watch.close();
        expect(await reader.transaction((tx) => tx.readString(path))).toBe('kept');
      } finally {
        await reader.close();
      }
      expect(await xs.readString(path)).toBe('kept');
      expect(await xs.exists(`${path}/child`)).toBe(false);
    });
  });
}
