import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { isSubpath } from '../../src/xenstore/paths.ts';
import { WatchIndex, type WatchSubscriber } from '../../src/xenstore/server/watches.ts';

const subscriber: WatchSubscriber = {
  domid: 0,
  privileged: true,
  target: undefined,
  honours: () => true,
  queueEvent: () => {},
};

const segment = fc.constantFrom('a', 'ab', 'b', 'c');
const path = fc.oneof(
  fc.constant('/'),
  fc.array(segment, { minLength: 1, maxLength: 4 }).map((parts) => `/${parts.join('/')}`),
);

describe('watch index', () => {
  it('finds exactly the watches on the path or an ancestor, in registration order', () => {
    fc.assert(
      fc.property(
        fc.array(path, { maxLength: 40 }),
        path,
        fc.array(fc.nat(), { maxLength: 10 }),
        (watched, changed, removals) => {
          const index = new WatchIndex();
          const watches = watched.map((p, i) => index.add(subscriber, p, `t${i}`, undefined));
          const removed = new Set(removals.map((r) => watches[r % Math.max(1, watches.length)]));
          for (const watch of removed) if (watch) index.remove(watch);
          const live = watches.filter((w) => !removed.has(w));
          expect(index.matching(changed, 'tree')).toEqual(
            live.filter((w) => isSubpath(w.path, changed)),
          );
          expect(index.matching(changed, 'exact')).toEqual(live.filter((w) => w.path === changed));
        },
      ),
    );
  });

  it('matches special paths only exactly', () => {
    const index = new WatchIndex();
    const special = index.add(subscriber, '@introduceDomain', 't', undefined);
    index.add(subscriber, '/', 'root', undefined);
    expect(index.matching('@introduceDomain', 'exact')).toEqual([special]);
    expect(index.matching('@introduceDomain', 'tree')).toEqual([special]);
  });
});
