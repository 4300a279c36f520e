import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { expect, it } from 'vitest';

const dir = fileURLToPath(new URL('../xen/vchan/', import.meta.url));

// The real-Xen run needs the lane (tests/xen/vchan/README.md); here only that the DomU program
// bundles into one module node can load without the checkout, and that the scripts parse.
it('bundles the DomU peer and has scripts that parse', () => {
  const out = mkdtempSync(join(tmpdir(), 'vchan-domu-'));
  try {
    const outfile = join(out, 'peer.mjs');
    const built = spawnSync(process.execPath, [join(dir, 'build.mjs'), '--bundle', outfile], {
      encoding: 'utf8',
    });
    expect(built.status, built.stderr).toBe(0);
    const checked = spawnSync(process.execPath, ['--check', outfile], { encoding: 'utf8' });
    expect(checked.status, checked.stderr).toBe(0);
    for (const script of ['run.sh', 'run-in-dom0.sh', 'domu-init']) {
      const parsed = spawnSync('bash', ['-n', join(dir, script)], { encoding: 'utf8' });
      expect(parsed.status, `${script}: ${parsed.stderr}`).toBe(0);
    }
  } finally {
    rmSync(out, { recursive: true, force: true });
  }
});
