import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { ChildList } from '../../src/xenstore/server/child-list.ts';

// C 4.17's send_directory_part, transcribed over the raw child buffer.
function cSlice(generation: string, names: string[], off: number): string {
  const children = names.map((n) => `${n}\0`).join('');
  const gen = `${generation}\0`;
  if (off >= children.length) return `${gen}\0`;
  const maxlen = 4096 - gen.length - 1;
  let len = 0;
  let at = off;
  for (;;) {
    const end = children.indexOf('\0', at);
    const strlen = end - at;
    if (len + strlen >= maxlen) break;
    len += strlen + 1;
    at += strlen + 1;
    if (off + len === children.length) break;
  }
  let data = gen + children.slice(off, off + len);
  if (off + len === children.length) data += '\0';
  return data;
}

const names = fc.array(fc.stringMatching(/^[a-z0-9_-]{1,300}$/), { maxLength: 80 });

describe('child lists', () => {
  it('slices exactly as C does, at any offset', () => {
    fc.assert(
      fc.property(names, fc.nat(30000), fc.nat(99999), (list, offset, generation) => {
        const got = ChildList.of(list).slice(String(generation), offset).toString('latin1');
        expect(got).toBe(cSlice(String(generation), list, offset));
        expect(got.length).toBeLessThanOrEqual(4096);
      }),
    );
  });

  it('pages through a list from offset 0 and refuses DIRECTORY over 4096 bytes', () => {
    fc.assert(
      fc.property(names, (list) => {
        const got: string[] = [];
        let offset = 0;
        for (;;) {
          const body = ChildList.of(list).slice('7', offset).toString('latin1').slice(2);
          const complete = body.endsWith('\0\0') || body === '\0';
          const slice = complete ? body.slice(0, -1) : body;
          got.push(...slice.split('\0').slice(0, -1));
          offset += slice.length;
          if (complete) break;
        }
        expect(got).toEqual(list);
        const size = list.reduce((n, name) => n + name.length + 1, 0);
        if (size > 4096) expect(() => ChildList.of(list).payload()).toThrow(/child list/);
        else
          expect(Buffer.from(ChildList.of(list).payload()).toString('latin1')).toBe(
            list.map((n) => `${n}\0`).join(''),
          );
      }),
    );
  });
});
