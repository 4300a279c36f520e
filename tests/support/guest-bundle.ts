import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { expect } from 'vitest';

/**
 * Checks that a lane builder (`tests/xen/<part>/build-domu.mjs`) bundles its guest program into
 * one module node can load without the checkout: the real-Xen run itself needs the lane.
 */
export function expectGuestBundles(builder: URL): void {
  const dir = mkdtempSync(join(tmpdir(), 'xen-guest-'));
  try {
    const outfile = join(dir, 'guest.mjs');
    const built = spawnSync(process.execPath, [builder.pathname, '--bundle', outfile], {
      encoding: 'utf8',
    });
    expect(built.status, built.stderr).toBe(0);
    const checked = spawnSync(process.execPath, ['--check', outfile], { encoding: 'utf8' });
    expect(checked.status, checked.stderr).toBe(0);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}
