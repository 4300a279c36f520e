import { execFileSync } from 'node:child_process';
import { mkdtempSync, openSync, readFileSync, rmSync, truncateSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { mapFd, mapFile, unmap } from '../../src/device/mapping.ts';
import { loadNative, nativeAddonPath } from '../../src/device/native.ts';
import { nativeAddonReady } from '../support/requirements.ts';

const ready = nativeAddonReady();
const dir = mkdtempSync(join(tmpdir(), 'xenwire-mmap-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe.skipIf(!ready)('native mmap', () => {
  it('shares a file mapping with another process', () => {
    const file = join(dir, 'shared');
    writeFileSync(file, Buffer.alloc(8192));
    const view = new Uint8Array(mapFile(file, { length: 8192 }));
    view[0] = 1;
    // The child maps the same file through the addon, checks the parent's write, writes back.
    const child = `
      const addon = require(${JSON.stringify(nativeAddonPath())});
      const fs = require('node:fs');
      const fd = fs.openSync(${JSON.stringify(file)}, 'r+');
      const page = new Uint8Array(addon.mmap(fd, 8192, 0, true));
      if (page[0] !== 1) process.exit(3);
      page[4096 + 7] = 0x5a;
      page.set(Buffer.from('from child'), 100);
    `;
    execFileSync(process.execPath, ['-e', child]);
    expect(view[4096 + 7]).toBe(0x5a);
    expect(Buffer.from(view.subarray(100, 110)).toString()).toBe('from child');
    unmap(view.buffer as ArrayBuffer);
    expect(view.buffer.byteLength).toBe(0);
  });

  it('maps at an offset and read-only', () => {
    const file = join(dir, 'offset');
    const content = Buffer.alloc(8192);
    content[4096] = 9;
    writeFileSync(file, content);
    const buffer = mapFile(file, { length: 4096, offset: 4096, writable: false });
    expect(new Uint8Array(buffer)[0]).toBe(9);
    unmap(buffer);
  });

  it('rejects misuse with errno codes instead of crashing', () => {
    const file = join(dir, 'small');
    writeFileSync(file, Buffer.alloc(100));
    expect(() => mapFile(file, { length: 8192 })).toThrow(
      expect.objectContaining({ code: 'EINVAL' }),
    );
    expect(() => mapFile(join(dir, 'missing'), { length: 4096 })).toThrow(
      expect.objectContaining({ code: 'ENOENT' }),
    );
    const fd = openSync(file, 'r+');
    expect(() => mapFd(fd, { length: 0 })).toThrow(expect.objectContaining({ code: 'EINVAL' }));
    // Longer than an ArrayBuffer can be: refused, not a double free.
    const sparse = join(dir, 'sparse');
    writeFileSync(sparse, '');
    truncateSync(sparse, 2 ** 32 + 8192);
    expect(() => mapFile(sparse, { length: 2 ** 32 + 4096 })).toThrow(
      expect.objectContaining({ code: 'EINVAL' }),
    );
    expect(() => mapFd(fd, { length: 100, offset: 7 })).toThrow(
      expect.objectContaining({ code: 'EINVAL' }),
    );
    expect(() => mapFd(-1, { length: 4096 })).toThrow(expect.objectContaining({ code: 'EINVAL' }));
    expect(() => mapFd(999_999, { length: 4096 })).toThrow(
      expect.objectContaining({ code: 'EBADF' }),
    );
    const buffer = mapFd(fd, { length: 100 });
    unmap(buffer);
    expect(() => unmap(buffer)).toThrow(expect.objectContaining({ code: 'EINVAL' }));
    expect(() => unmap(new ArrayBuffer(8))).toThrow(expect.objectContaining({ code: 'EINVAL' }));
    const native = loadNative();
    expect(() => (native.mmap as (...a: unknown[]) => unknown)(fd, 4096)).toThrow(
      expect.objectContaining({ code: 'EINVAL' }),
    );
  });

  it("holds signals back only for the mmap call: the thread's mask is as it was after it", () => {
    // A grant device maps within mmap and gives up with EINTR on a signal, so the addon blocks
    // signals around the call; they must be unblocked again, whether the call works or fails.
    const blocked = () =>
      /^SigBlk:\s*(\S+)$/m.exec(readFileSync('/proc/thread-self/status', 'utf8'))?.[1];
    const before = blocked();
    expect(before).toMatch(/^[0-9a-f]{16}$/);
    const file = join(dir, 'mask');
    writeFileSync(file, Buffer.alloc(8192));
    unmap(mapFile(file, { length: 4096 }));
    expect(blocked()).toBe(before);
    // An offset the kernel refuses (not page-aligned) fails inside mmap itself.
    expect(() => mapFd(openSync(file, 'r+'), { length: 4096, offset: 7 })).toThrow(
      expect.objectContaining({ code: 'EINVAL' }),
    );
    expect(blocked()).toBe(before);
  });

  it('waits and wakes on shared memory through the futex like Atomics.wait', () => {
    const native = loadNative();
    const words = new Int32Array(new SharedArrayBuffer(8));
    expect(native.futexWait(words, 1, 5, 1000)).toBe('not-equal');
    expect(native.futexWait(words, 1, 0, 1)).toBe('timed-out');
    expect(native.futexWake(words, 1)).toBe(0);
    expect(() => native.futexWait(words, 2, 0, 1)).toThrow(
      expect.objectContaining({ code: 'EINVAL' }),
    );
    const plain = new Int32Array(2) as unknown as Int32Array;
    expect(() => native.futexWake(new Uint8Array(4) as unknown as Int32Array, 0)).toThrow(
      expect.objectContaining({ code: 'EINVAL' }),
    );
    expect(native.futexWait(plain, 0, 1, 1)).toBe('not-equal');
  });
});
