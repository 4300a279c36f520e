import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { expect, it } from 'vitest';

const builder = fileURLToPath(new URL('../xen/block/build-domu.mjs', import.meta.url));

// The real-Xen run needs the lane (tests/xen/block/README.md); here only that the guest's program
// bundles into one module node can load without the checkout.
it('bundles the DomU block program into a self-contained module', () => {
  const dir = mkdtempSync(join(tmpdir(), 'block-domu-'));
  try {
    const outfile = join(dir, 'blk-guest.mjs');
    const built = spawnSync(process.execPath, [builder, '--bundle', outfile], { encoding: 'utf8' });
    expect(built.status, built.stderr).toBe(0);
    const checked = spawnSync(process.execPath, ['--check', outfile], { encoding: 'utf8' });
    expect(checked.status, checked.stderr).toBe(0);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
