import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { discoverBenchFiles } from '../../bench/lib/discover.ts';

describe('discoverBenchFiles', () => {
  let directory: string;

  beforeAll(async () => {
    directory = await mkdtemp(join(tmpdir(), 'xenwire-discover-'));
    const pair = (id: string) =>
      `{ id: '${id}', title: '${id}', unit: 'ops/s', baseline: { label: 'A', run: async () => ({ rate: 1 }) }, candidate: { label: 'B', run: async () => ({ rate: 1 }) } }`;
    await writeFile(join(directory, 'b-list.bench.ts'), `export default [${pair('b.one')}];\n`);
    await writeFile(
      join(directory, 'a-built.bench.ts'),
      `export default async () => [${pair('a.one')}, ${pair('a.two')}];\n`,
    );
    await writeFile(join(directory, 'c-broken.bench.ts'), "throw new Error('half written');\n");
    await writeFile(
      join(directory, 'd-named.bench.ts'),
      `export const pairs = [${pair('d.one')}];\n`,
    );
    await writeFile(join(directory, 'e-empty.bench.ts'), 'export const others = [];\n');
    await writeFile(join(directory, 'helper.ts'), "throw new Error('not a bench file');\n");
  });

  afterAll(async () => {
    await rm(directory, { recursive: true, force: true });
  });

  it('loads every *.bench.ts in name order, from a list, a function or a named export', async () => {
    const files = await discoverBenchFiles(directory);
    expect(files.map((f) => f.file)).toEqual([
      'a-built.bench.ts',
      'b-list.bench.ts',
      'c-broken.bench.ts',
      'd-named.bench.ts',
      'e-empty.bench.ts',
    ]);
    const ids = files.flatMap((f) => ('pairs' in f ? f.pairs.map((p) => p.id) : []));
    expect(ids).toEqual(['a.one', 'a.two', 'b.one', 'd.one']);
  });

  it('reports a file that fails to load instead of giving up', async () => {
    const files = await discoverBenchFiles(directory);
    expect(files[2]).toEqual({ file: 'c-broken.bench.ts', error: 'half written' });
    expect(files[4]).toMatchObject({ error: expect.stringMatching(/exports no benchmark pairs/) });
  });
});
