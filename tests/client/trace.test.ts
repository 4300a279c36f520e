import { execFile } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { expect, it } from 'vitest';

const run = promisify(execFile);
const script = fileURLToPath(new URL('./fixtures/traced-client.ts', import.meta.url));

it('traces every message under NODE_DEBUG=xenwire, and nothing without it', async () => {
  const traced = await run(process.execPath, ['--import', 'tsx', script], {
    env: { ...process.env, NODE_DEBUG: 'xenwire' },
  });
  expect(traced.stderr).toMatch(/XENWIRE \d+: -> WRITE req \d+ tx 0 len 11 \/traced\\0yes/);
  expect(traced.stderr).toMatch(/XENWIRE \d+: <- READ req \d+ tx 0 len 3 yes/);
  const quiet = await run(process.execPath, ['--import', 'tsx', script], {
    env: { ...process.env, NODE_DEBUG: '' },
  });
  expect(quiet.stderr).not.toMatch(/XENWIRE/);
}, 60_000);
