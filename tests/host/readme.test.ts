import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { expect, it, vi } from 'vitest';

const readme = fileURLToPath(new URL('../../src/host/README.md', import.meta.url));
const entry = fileURLToPath(new URL('../../src/host/index.ts', import.meta.url));

it("runs the README's example as written", async () => {
  const text = await readFile(readme, 'utf8');
  const example = /```ts\n([\s\S]*?)```/.exec(text)?.[1];
  expect(example).toBeDefined();
  const dir = await mkdtemp(join(tmpdir(), 'xenwire-readme-'));
  const file = join(dir, 'example.ts');
  await writeFile(file, example!.replace("'xenwire/host'", JSON.stringify(entry)));
  const log = vi.spyOn(console, 'log').mockImplementation(() => {});
  try {
    await import(pathToFileURL(file).href);
    expect(log).toHaveBeenCalledWith({ name: 'web-1', denied: 'EACCES', served: [1, 3] });
  } finally {
    log.mockRestore();
    await rm(dir, { recursive: true, force: true });
  }
});
