import { execFile } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { compileC, localIncludes } from '../../bench/lib/c-program.ts';

const run = promisify(execFile);

describe('compileC', () => {
  let directory: string;
  let source: string;

  beforeAll(async () => {
    directory = await mkdtemp(join(tmpdir(), 'xenwire-compile-'));
    source = join(directory, 'hello.c');
  });

  afterAll(async () => {
    await rm(directory, { recursive: true, force: true });
  });

  it('builds once per source text and reuses the executable', async () => {
    await writeFile(source, '#include <stdio.h>\nint main(void) { puts("one"); return 0; }\n');
    const first = await compileC({ source, name: 'hello-test' });
    expect((await run(first)).stdout).toBe('one\n');
    expect(await compileC({ source, name: 'hello-test' })).toBe(first);

    await writeFile(source, '#include <stdio.h>\nint main(void) { puts("two"); return 0; }\n');
    const second = await compileC({ source, name: 'hello-test' });
    expect(second).not.toBe(first);
    expect((await run(second)).stdout).toBe('two\n');
    await Promise.all([rm(first), rm(second)]);
  });

  it('builds again when a header the source includes with quotes changes', async () => {
    const header = join(directory, 'word.h');
    await writeFile(
      source,
      '#include <stdio.h>\n#include "word.h"\nint main(void) { puts(WORD); return 0; }\n',
    );
    expect(localIncludes(source, '#include "word.h"\n#include <stdio.h>\n')).toEqual([header]);
    await writeFile(header, '#define WORD "one"\n');
    const first = await compileC({ source, name: 'hello-test' });
    await writeFile(header, '#define WORD "two"\n');
    const second = await compileC({ source, name: 'hello-test' });
    expect(second).not.toBe(first);
    expect((await run(second)).stdout).toBe('two\n');
    await Promise.all([rm(first), rm(second)]);
  });
});
