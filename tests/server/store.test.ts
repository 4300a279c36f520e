import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { baseName } from '../../src/xenstore/paths.ts';
import { ChildList } from '../../src/xenstore/server/child-list.ts';
import { addChild, type NodePermissions, recordBytes } from '../../src/xenstore/server/node.ts';
import { Store } from '../../src/xenstore/server/store.ts';

/**
 * The packed store against a plain Map of what it should hold: random sequences of puts (fresh
 * nodes, and nodes read back and changed), bulk adds and removals, with values and child lists of
 * every size class, so that blocks are freed, reused and (with a compaction floor of 0) moved.
 */

const PERMS: NodePermissions[] = [
  Object.freeze([{ access: 'n', domid: 0 }]),
  Object.freeze([{ access: 'r', domid: 1 }]),
  Object.freeze([
    { access: 'b', domid: 2 },
    { access: 'r', domid: 1 },
  ]),
];

interface ModelNode {
  value: Uint8Array;
  perms: NodePermissions;
  children: string[];
  generation: number;
}

const name = fc.oneof(
  fc.constantFrom('a', 'b', 'c', 'dd', 'e0'),
  fc.integer({ min: 1, max: 150 }).map((n) => 'x'.repeat(n)),
);
const path = fc
  .array(fc.constantFrom('a', 'b', 'c', 'dd'), { minLength: 0, maxLength: 3 })
  .map((parts) => `/${parts.join('/')}`);
const value = fc.oneof(
  fc.uint8Array({ maxLength: 12 }),
  fc.integer({ min: 0, max: 5000 }).map((n) => new Uint8Array(n).fill(n & 0xff)),
);

type Op =
  | { kind: 'put'; path: string; value: Uint8Array; perms: number; children: string[] }
  | { kind: 'change'; path: string; how: 'value' | 'append' | 'drop' | 'perms'; arg: number }
  | { kind: 'add'; path: string; leaf: string; value: Uint8Array; perms: number }
  | { kind: 'remove'; path: string };

const op: fc.Arbitrary<Op> = fc.oneof(
  fc.record({
    kind: fc.constant('put' as const),
    path,
    value,
    perms: fc.nat(PERMS.length - 1),
    children: fc.uniqueArray(name, { maxLength: 40 }),
  }),
  fc.record({
    kind: fc.constant('change' as const),
    path,
    how: fc.constantFrom('value' as const, 'append' as const, 'drop' as const, 'perms' as const),
    arg: fc.nat(5000),
  }),
  fc.record({
    kind: fc.constant('add' as const),
    path,
    leaf: name,
    value,
    perms: fc.nat(PERMS.length - 1),
  }),
  fc.record({ kind: fc.constant('remove' as const), path }),
);

function apply(store: Store, model: Map<string, ModelNode>, step: Op): void {
  switch (step.kind) {
    case 'put': {
      const perms = PERMS[step.perms]!;
      const generation = store.generation;
      store.put(step.path, {
        value: step.value,
        perms,
        children: ChildList.of(step.children),
        generation: 0,
      });
      // A copy: the model's lists grow and shrink later, and fast-check replays this very array
      // while it shrinks a failure, so changing it in place would change the steps replayed.
      model.set(step.path, { value: step.value, perms, children: [...step.children], generation });
      return;
    }
    case 'change': {
      const node = store.get(step.path);
      const expected = model.get(step.path);
      expect(node === undefined).toBe(expected === undefined);
      if (!node || !expected) return;
      if (step.how === 'value') {
        node.value = new Uint8Array(step.arg).fill(7);
        expected.value = node.value;
      } else if (step.how === 'perms') {
        node.perms = PERMS[step.arg % PERMS.length]!;
        expected.perms = node.perms;
      } else if (step.how === 'append') {
        // Several names at once: the store appends what was added since the read.
        for (let i = 0; i < (step.arg % 5) + 1; i++) {
          const child = `n${step.arg}-${i}`;
          if (expected.children.includes(child)) continue;
          addChild(node, child);
          expected.children.push(child);
        }
      } else {
        const victim = expected.children[step.arg % Math.max(1, expected.children.length)];
        if (victim === undefined) return;
        expect(node.children.remove(victim)).toBe(true);
        expected.children = expected.children.filter((n) => n !== victim);
      }
      expected.generation = store.generation;
      store.put(step.path, node);
      expect(node.generation).toBe(expected.generation);
      return;
    }
    case 'add': {
      const at = step.path === '/' ? `/${step.leaf}` : `${step.path}/${step.leaf}`;
      const parent = model.get(step.path);
      // A put may list children that are no nodes; the server only adds a node its parent does
      // not list yet (names stay unique), so the model does not add one the parent names already.
      if (!parent || model.has(at) || parent.children.includes(step.leaf)) return;
      const perms = PERMS[step.perms]!;
      const generation = store.generation;
      store.add(at, { value: step.value, perms, children: ChildList.of([]), generation: 0 });
      model.set(at, { value: step.value, perms, children: [], generation });
      parent.children.push(baseName(at));
      return;
    }
    case 'remove':
      store.remove(step.path);
      model.delete(step.path);
  }
}

function check(store: Store, model: Map<string, ModelNode>): void {
  expect(store.size).toBe(model.size);
  const owned = new Map<number, number>();
  let bytes = 0;
  for (const [at, expected] of model) {
    const node = store.get(at);
    expect(node, at).toBeDefined();
    expect(Buffer.from(node!.value).equals(Buffer.from(expected.value)), at).toBe(true);
    expect(node!.perms).toBe(expected.perms);
    expect(node!.generation).toBe(expected.generation);
    expect(node!.children.names()).toEqual(expected.children);
    const listBytes = expected.children.reduce((n, child) => n + child.length + 1, 0);
    expect(node!.children.byteLength).toBe(listBytes);
    const owner = expected.perms[0]!.domid;
    owned.set(owner, (owned.get(owner) ?? 0) + 1);
    bytes += recordBytes(expected.perms.length, expected.value.length, listBytes) + at.length;
  }
  for (const domid of [0, 1, 2]) expect(store.owned(domid)).toBe(owned.get(domid) ?? 0);
  expect(store.databaseBytes()).toBe(bytes);
}

describe('the packed store', () => {
  for (const floor of [0, Number.POSITIVE_INFINITY]) {
    it(`holds what a Map of nodes holds (${floor === 0 ? 'compacting often' : 'reusing free blocks'}, property)`, () => {
      fc.assert(
        fc.property(fc.array(op, { maxLength: 60 }), (steps) => {
          const store = new Store(floor);
          const model = new Map<string, ModelNode>();
          for (const step of steps) {
            apply(store, model, step);
            check(store, model);
          }
          // Clearing leaves nothing, and the store works as new afterwards.
          store.clear();
          model.clear();
          check(store, model);
          apply(store, model, {
            kind: 'put',
            path: '/a',
            value: new Uint8Array(3),
            perms: 1,
            children: ['z'],
          });
          check(store, model);
        }),
        // Shrinking a failure through long runs of big values takes minutes: report it sooner.
        { numRuns: 150, interruptAfterTimeLimit: 30_000, markInterruptAsFailure: true },
      );
    });
  }

  it('lists stored children in DIRECTORY and DIRECTORY_PART exactly as a list of its own', () => {
    fc.assert(
      fc.property(fc.uniqueArray(name, { maxLength: 80 }), fc.nat(6000), (names, offset) => {
        const store = new Store();
        store.put('/p', {
          value: new Uint8Array(0),
          perms: PERMS[0]!,
          children: ChildList.of(names),
          generation: 0,
        });
        const stored = store.get('/p')!.children;
        const own = ChildList.of(names);
        expect(stored.slice('9', offset).equals(own.slice('9', offset))).toBe(true);
        if (own.byteLength <= 4096) {
          expect(Buffer.from(stored.payload()).equals(Buffer.from(own.payload()))).toBe(true);
        }
      }),
    );
  });

  it('refuses to read a child list whose node changed since, rather than show other names', () => {
    const store = new Store();
    store.put('/p', {
      value: new Uint8Array(0),
      perms: PERMS[0]!,
      children: ChildList.of(['a', 'b']),
      generation: 0,
    });
    const early = store.get('/p')!;
    const late = store.get('/p')!;
    addChild(late, 'c');
    store.put('/p', late);
    expect(late.children.names()).toEqual(['a', 'b', 'c']);
    expect(() => early.children.names()).toThrow(/changed/);
    store.remove('/p');
    expect(() => late.children.names()).toThrow(/changed/);
  });

  it('keeps a child list larger than an arena page, appended by bulk adds and by puts', () => {
    const store = new Store();
    const value = new Uint8Array(0);
    store.add('/', { value, perms: PERMS[0]!, children: ChildList.of([]), generation: 0 });
    const names = Array.from({ length: 40_000 }, (_, i) => `child-number-${i}`);
    for (const child of names.slice(0, 30_000)) {
      store.add(`/${child}`, {
        value,
        perms: PERMS[0]!,
        children: ChildList.of([]),
        generation: 0,
      });
    }
    for (let i = 30_000; i < names.length; i += 100) {
      const root = store.get('/')!;
      for (const child of names.slice(i, i + 100)) addChild(root, child);
      store.put('/', root);
    }
    expect(store.get('/')!.children.names()).toEqual(names);
    expect(store.get('/')!.children.byteLength).toBe(names.join('\0').length + 1);
  });

  it('finds every node after many removals reorder the index', () => {
    const store = new Store();
    const paths = Array.from({ length: 3000 }, (_, i) => `/n/${i}`);
    for (const at of paths)
      store.put(at, {
        value: new Uint8Array(1),
        perms: PERMS[0]!,
        children: ChildList.of([]),
        generation: 0,
      });
    for (let i = 0; i < paths.length; i += 3) store.remove(paths[i]!);
    paths.forEach((at, i) => {
      expect(store.has(at), at).toBe(i % 3 !== 0);
    });
  });
});
