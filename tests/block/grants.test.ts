import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { GrantPool } from '../../src/block/grant-pool.ts';
import { BlockError } from '../../src/block/index.ts';
import { GrantCache } from '../../src/block/persistent-grants.ts';
import type { SharedPages } from '../../src/xenbus/index.ts';

/** A fake grant device: pages named by their ref, every map and unmap recorded. */
function fakeMapper(bad = new Set<number>()) {
  const live = new Map<number, number>();
  const calls: { refs: number[]; readonly: boolean }[] = [];
  const map = (refs: readonly number[], options: { readonly?: boolean }): SharedPages => {
    if (refs.some((ref) => bad.has(ref))) throw new Error('EINVAL: not granted');
    calls.push({ refs: [...refs], readonly: options.readonly ?? false });
    for (const ref of refs) live.set(ref, (live.get(ref) ?? 0) + 1);
    let released = false;
    return {
      refs: [...refs],
      pages: refs.map((ref) => new Uint8Array(4096).fill(ref & 0xff)),
      release() {
        if (released) throw new Error('released twice');
        released = true;
        for (const ref of refs) live.set(ref, (live.get(ref) ?? 0) - 1);
      },
    };
  };
  const mapped = () => [...live.values()].reduce((a, b) => a + b, 0);
  return { map, calls, mapped };
}

describe('the backend’s grant cache', () => {
  it('maps a request’s missing refs in one call and keeps them', () => {
    const device = fakeMapper();
    const cache = new GrantCache(device.map, 100);
    const lease = cache.acquire([1, 2, 3, 2], true);
    expect(lease.pages.map((page) => page[0])).toEqual([1, 2, 3, 2]);
    expect(device.calls).toEqual([{ refs: [1, 2, 3], readonly: false }]);
    lease.release();
    cache.acquire([3, 4], false).release();
    expect(device.calls[1]).toEqual({ refs: [4], readonly: false });
    expect(cache.persistent).toBe(4);
    expect(cache.clear()).toEqual([]);
    expect(device.mapped()).toBe(0);
  });

  it('without persistent grants, maps each request’s refs for it alone, read-only when it may', () => {
    const device = fakeMapper();
    const cache = new GrantCache(device.map, 0);
    const lease = cache.acquire([5, 6], true);
    expect(cache.mapped).toBe(2);
    expect(device.calls).toEqual([{ refs: [5, 6], readonly: true }]);
    lease.release();
    lease.release();
    expect(device.mapped()).toBe(0);
    expect(cache.mapped).toBe(0);
  });

  it('evicts the least recently used, never a ref in use, and unmaps a batch once all of it went', () => {
    const device = fakeMapper();
    const cache = new GrantCache(device.map, 3);
    cache.acquire([1, 2], false).release();
    const held = cache.acquire([3], false);
    cache.acquire([1], false).release(); // 2 is now the oldest
    cache.acquire([4], false).release();
    expect(cache.persistent).toBe(3);
    // 2 went, but its batch [1, 2] stays mapped while 1 is kept.
    expect(device.mapped()).toBe(4);
    // Full of refs in use or recent: 5 and 6 cannot all be kept, the rest is mapped for the lease.
    const busy = cache.acquire([1, 3, 4], false);
    const extra = cache.acquire([5, 6], false);
    expect(cache.persistent).toBe(3);
    expect(cache.mapped).toBe(5);
    extra.release();
    busy.release();
    held.release();
    expect(device.mapped()).toBe(4);
    cache.clear();
    expect(device.mapped()).toBe(0);
  });

  it('keeps every page it hands out mapped until released, under any sequence', () => {
    fc.assert(
      fc.property(
        fc.array(
          fc.record({
            refs: fc.array(fc.nat({ max: 12 }), { minLength: 1, maxLength: 5 }),
            hold: fc.boolean(),
          }),
          { maxLength: 40 },
        ),
        fc.nat({ max: 8 }),
        (steps, capacity) => {
          const device = fakeMapper();
          const cache = new GrantCache(device.map, capacity);
          const held = [];
          for (const step of steps) {
            const lease = cache.acquire(step.refs, false);
            expect(lease.pages.map((page) => page[0])).toEqual(step.refs);
            if (step.hold) held.push(lease);
            else lease.release();
            expect(cache.persistent).toBeLessThanOrEqual(capacity);
            expect(device.mapped()).toBeGreaterThanOrEqual(cache.mapped);
          }
          for (const lease of held) lease.release();
          cache.clear();
          expect(device.mapped()).toBe(0);
        },
      ),
    );
  });

  it('maps nothing when one of a request’s refs is bad', () => {
    const device = fakeMapper(new Set([7]));
    const cache = new GrantCache(device.map, 10);
    expect(() => cache.acquire([1, 7], false)).toThrow(/not granted/);
    expect(device.mapped()).toBe(0);
  });
});

describe('the frontend’s grant pool', () => {
  function granter(limit = Number.POSITIVE_INFINITY) {
    let next = 100;
    let granted = 0;
    const ended: number[] = [];
    const grant = (count: number): SharedPages => {
      if (granted + count > limit) throw new Error('ENOSPC');
      granted += count;
      const refs = Array.from({ length: count }, () => next++);
      return {
        refs,
        pages: refs.map(() => new Uint8Array(4096)),
        release: () => ended.push(...refs),
      };
    };
    return { grant, ended };
  }

  it('grants in batches up to its limit and hands pages back out, last freed first', async () => {
    const device = granter();
    const pool = new GrantPool(device.grant, 10, 4);
    const a = await pool.take(3);
    expect(a.map((p) => p.ref)).toEqual([102, 101, 100]);
    expect(pool.granted).toBe(4);
    const b = await pool.take(6);
    expect(pool.granted).toBe(9);
    pool.give(a);
    const c = await pool.take(2);
    expect(c.map((p) => p.ref)).toEqual(a.slice(1).map((p) => p.ref));
    pool.give(b);
    pool.give(c);
    expect(pool.close(new BlockError('ECONNRESET', 'closed'))).toEqual([]);
    expect(device.ended).toHaveLength(9);
  });

  it('makes takers wait in order for pages in use, and fails them when it closes', async () => {
    const pool = new GrantPool(granter().grant, 4, 4);
    const first = await pool.take(4);
    const order: string[] = [];
    const second = pool.take(3).then(() => order.push('second'));
    const third = pool.take(1).then(() => order.push('third'));
    pool.give(first.slice(0, 2));
    await Promise.resolve();
    expect(order).toEqual([]);
    pool.give(first.slice(2));
    await Promise.all([second, third]);
    expect(order).toEqual(['second', 'third']);
    const waiting = pool.take(4);
    pool.close(new BlockError('ECONNRESET', 'closed'));
    await expect(waiting).rejects.toMatchObject({ code: 'ECONNRESET' });
    await expect(pool.take(1)).rejects.toMatchObject({ code: 'ECONNRESET' });
    await expect(new GrantPool(granter().grant, 4).take(5)).rejects.toMatchObject({
      code: 'EINVAL',
    });
  });

  it('fails takers at once when aborted, and ends its grants only when closed', async () => {
    const device = granter();
    const pool = new GrantPool(device.grant, 4, 4);
    const held = await pool.take(4);
    const waiting = pool.take(2);
    pool.abort(new BlockError('EPROTO', 'bad backend'));
    await expect(waiting).rejects.toMatchObject({ code: 'EPROTO' });
    await expect(pool.take(1)).rejects.toMatchObject({ code: 'EPROTO' });
    pool.give(held);
    expect(device.ended).toEqual([]);
    pool.close(new BlockError('ECONNRESET', 'closed'));
    expect(device.ended).toHaveLength(4);
  });

  it('makes do with what it got when the platform refuses more grants', async () => {
    const pool = new GrantPool(granter(6).grant, 100, 4);
    const held = await pool.take(4);
    await expect(pool.take(5)).rejects.toMatchObject({ code: 'EIO' });
    const later = pool.take(3);
    pool.give(held);
    expect(await later).toHaveLength(3);
  });
});
