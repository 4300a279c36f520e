import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { expect, it } from 'vitest';

const readme = fileURLToPath(new URL('../../src/host/README.md', import.meta.url));
const entry = fileURLToPath(new URL('../../src/host/index.ts', import.meta.url));

// The example checks its own results with node:assert: running it to the end is the test.
it("runs the README's example as written", async () => {
  const text = await readFile(readme, 'utf8');
  const example = /```ts\n([\s\S]*?)```/.exec(text)?.[1];
  expect(example).toContain("from 'xenwire/host'");
  const dir = await mkdtemp(join(tmpdir(), 'xenwire-readme-'));
  const file = join(dir, 'example.ts');
  await writeFile(file, example!.replace("'xenwire/host'", JSON.stringify(entry)));
  try {
    await import(pathToFileURL(file).href);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});
