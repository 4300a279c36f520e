import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { MessageType } from '../../src/xenstore/messages.ts';
import { XenstoreServer } from '../../src/xenstore/server.ts';
import { Recorder, renderReply, scriptPayload } from './script.ts';

/**
 * Random request sequences from two dom0 connections against a small reference model of the
 * store: values, child order, RM rules and watch events (which watches fire, with which path, in
 * which order).
 */

interface ModelNode {
  value: string;
  children: string[];
}

class Model {
  readonly nodes = new Map<string, ModelNode>([
    ['/', { value: '', children: ['tool'] }],
    ['/tool', { value: '', children: ['xenstored'] }],
    ['/tool/xenstored', { value: '', children: [] }],
  ]);
  // Watches in registration order: [conn, path, token].
  readonly watches: [number, string, string][] = [];
  readonly events: string[][] = [[], []];

  static parent(path: string): string {
    const cut = path.lastIndexOf('/');
    return cut <= 0 ? '/' : path.slice(0, cut);
  }

  static under(ancestor: string, path: string): boolean {
    return ancestor === '/' || path === ancestor || path.startsWith(`${ancestor}/`);
  }

  #fire(path: string, exact: boolean): void {
    for (const [conn, watched, token] of this.watches) {
      // An event identical to one already queued for this request is dropped (as C does).
      const event = `${path} ${token}`;
      if (
        (exact ? watched === path : Model.under(watched, path)) &&
        !this.events[conn]!.includes(event)
      ) {
        this.events[conn]!.push(event);
      }
    }
  }

  #create(path: string, value: string): void {
    const parent = Model.parent(path);
    if (!this.nodes.has(parent)) this.#create(parent, '');
    this.nodes.get(parent)!.children.push(path.slice(path.lastIndexOf('/') + 1));
    this.nodes.set(path, { value, children: [] });
  }

  write(path: string, value: string): string {
    const node = this.nodes.get(path);
    if (node) node.value = value;
    else this.#create(path, value);
    this.#fire(path, false);
    return 'OK';
  }

  mkdir(path: string): string {
    if (!this.nodes.has(path)) {
      this.#create(path, '');
      this.#fire(path, false);
    }
    return 'OK';
  }

  rm(path: string): string {
    const node = this.nodes.get(path);
    if (!node) return this.nodes.has(Model.parent(path)) ? 'OK' : 'ENOENT';
    const walk = (at: string, n: ModelNode, top: boolean) => {
      for (const child of n.children)
        walk(`${at}/${child}`, this.nodes.get(`${at}/${child}`)!, false);
      this.nodes.delete(at);
      this.#fire(at, !top);
    };
    walk(path, node, true);
    const siblings = this.nodes.get(Model.parent(path))!.children;
    siblings.splice(siblings.indexOf(path.slice(path.lastIndexOf('/') + 1)), 1);
    return 'OK';
  }

  read(path: string): string {
    return this.nodes.get(path)?.value ?? 'ENOENT';
  }

  dir(path: string): string {
    return this.nodes.get(path)?.children.join(',') ?? 'ENOENT';
  }

  watch(conn: number, path: string, token: string): string {
    if (this.watches.some(([c, p, t]) => c === conn && p === path && t === token)) return 'EEXIST';
    this.watches.push([conn, path, token]);
    this.events[conn]!.push(`${path} ${token}`);
    return 'OK';
  }

  unwatch(conn: number, path: string, token: string): string {
    const at = this.watches.findIndex(([c, p, t]) => c === conn && p === path && t === token);
    if (at < 0) return 'ENOENT';
    this.watches.splice(at, 1);
    return 'OK';
  }
}

const pathArb = fc
  .array(fc.constantFrom('a', 'b', 'c'), { minLength: 1, maxLength: 3 })
  .map((parts) => `/${parts.join('/')}`);
const watchPathArb = fc.oneof(pathArb, fc.constant('/'));
const opArb = fc.oneof(
  fc.record({
    op: fc.constant('write' as const),
    path: pathArb,
    value: fc.constantFrom('', '1', 'two'),
  }),
  fc.record({
    op: fc.constantFrom('mkdir' as const, 'rm' as const, 'read' as const, 'dir' as const),
    path: pathArb,
  }),
  fc.record({
    op: fc.constantFrom('watch' as const, 'unwatch' as const),
    path: watchPathArb,
    token: fc.constantFrom('t1', 't2'),
  }),
);
const stepArb = fc.tuple(fc.integer({ min: 0, max: 1 }), opArb);

describe('model', () => {
  it('agrees with the reference model on replies and events', () => {
    fc.assert(
      fc.property(fc.array(stepArb, { maxLength: 60 }), (steps) => {
        const server = new XenstoreServer();
        const conns = [new Recorder(server, 0), new Recorder(server, 0)];
        const model = new Model();
        for (const [who, step] of steps) {
          const conn = conns[who]!;
          let expected: string;
          let args: string[];
          switch (step.op) {
            case 'write':
              expected = model.write(step.path, step.value);
              args = [step.path, step.value];
              break;
            case 'watch':
            case 'unwatch':
              expected = model[step.op](who, step.path, step.token);
              args = [step.path, step.token];
              break;
            default:
              expected = model[step.op](step.path);
              args = [step.path];
          }
          const type = {
            write: MessageType.WRITE,
            mkdir: MessageType.MKDIR,
            rm: MessageType.RM,
            read: MessageType.READ,
            dir: MessageType.DIRECTORY,
            watch: MessageType.WATCH,
            unwatch: MessageType.UNWATCH,
          }[step.op];
          const reply = renderReply(conn.request(type, scriptPayload(step.op, args)));
          expect(reply).toBe(expected);
          for (const [i, c] of conns.entries()) {
            expect(c.events()).toEqual(model.events[i]!.splice(0));
          }
        }
      }),
      { numRuns: 300 },
    );
  });

  it('a transaction nobody interferes with commits with the effect of its requests', () => {
    fc.assert(
      fc.property(
        fc.array(
          opArb.filter((s) => s.op !== 'watch' && s.op !== 'unwatch'),
          { maxLength: 30 },
        ),
        (steps) => {
          const direct = new XenstoreServer();
          const viaTx = new XenstoreServer();
          const d = new Recorder(direct, 0);
          const t = new Recorder(viaTx, 0);
          d.request(MessageType.WATCH, scriptPayload('watch', ['/', 'w']));
          t.request(MessageType.WATCH, scriptPayload('watch', ['/', 'w']));
          d.events();
          t.events();
          const id = Number(
            renderReply(t.request(MessageType.TRANSACTION_START, scriptPayload('start', []))),
          );
          const types = {
            write: MessageType.WRITE,
            mkdir: MessageType.MKDIR,
            rm: MessageType.RM,
            read: MessageType.READ,
            dir: MessageType.DIRECTORY,
          } as const;
          for (const step of steps) {
            if (step.op === 'watch' || step.op === 'unwatch') continue;
            const args = step.op === 'write' ? [step.path, step.value] : [step.path];
            const a = renderReply(d.request(types[step.op], scriptPayload(step.op, args)));
            const b = renderReply(t.request(types[step.op], scriptPayload(step.op, args), id));
            expect(b).toBe(a);
          }
          expect(t.events()).toEqual([]);
          expect(
            renderReply(t.request(MessageType.TRANSACTION_END, scriptPayload('commit', []), id)),
          ).toBe('OK');
          expect(JSON.stringify(viaTx.dump().nodes)).toBe(JSON.stringify(direct.dump().nodes));
          // Each changed node fires once, in first-touched order: a subset of the direct events.
          const committed = t.events();
          const directEvents = new Set(d.events());
          for (const event of committed) expect(directEvents.has(event)).toBe(true);
        },
      ),
      { numRuns: 200 },
    );
  });
});
