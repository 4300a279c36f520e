import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { expect, it } from 'vitest';

const readme = fileURLToPath(new URL('../../src/host/README.md', import.meta.url));
const entry = fileURLToPath(new URL('../../src/host/index.ts', import.meta.url));

/** The README's examples that build a host; the guest program runs only inside a worker. */
async function hostExamples(): Promise<string[]> {
  const text = await readFile(readme, 'utf8');
  return [...text.matchAll(/```ts\n([\s\S]*?)```/g)]
    .map((match) => match[1]!)
    .filter((example) => example.includes('createSimulatedHost('));
}

it('has two host examples', async () => {
  expect(await hostExamples()).toHaveLength(2);
});

// Each example checks its own results with node:assert: running it to the end is the test.
it.each([0, 1])(
  "runs the README's host example %i as written",
  async (index) => {
    const example = (await hostExamples())[index]!;
    expect(example).toContain("from 'xenwire/host'");
    const dir = await mkdtemp(join(tmpdir(), 'xenwire-readme-'));
    const file = join(dir, 'example.ts');
    await writeFile(file, example.replace("'xenwire/host'", JSON.stringify(entry)));
    try {
      await import(pathToFileURL(file).href);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  },
  60_000,
);
