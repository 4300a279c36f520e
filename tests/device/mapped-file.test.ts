import { spawnSync } from 'node:child_process';
import {
  closeSync,
  fstatSync,
  ftruncateSync,
  mkdtempSync,
  openSync,
  readFileSync,
  rmSync,
  truncateSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { MappedFile } from '../../src/device/mapped-file.ts';
import { nativeAddonPath } from '../../src/device/native.ts';
import { nativeAddonReady } from '../support/requirements.ts';

const ready = nativeAddonReady();
const dir = mkdtempSync(join(tmpdir(), 'xenwire-mapped-file-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

function file(name: string, bytes: Uint8Array): number {
  const path = join(dir, name);
  writeFileSync(path, bytes);
  return openSync(path, 'r+');
}

describe.skipIf(!ready)('a mapped file', () => {
  it('reads and writes buffers one after another, as the file itself holds them', () => {
    const content = new Uint8Array(3 * 4096).map((_, i) => i % 251);
    const fd = file('copies', content);
    const mapped = MappedFile.map(fd, content.length);
    closeSync(fd);
    const a = new Uint8Array(100);
    const b = new Uint8Array(5000);
    mapped.read(4000, [a, new Uint8Array(0), b]);
    expect(a).toEqual(content.subarray(4000, 4100));
    expect(b).toEqual(content.subarray(4100, 9100));
    mapped.write(10, [new Uint8Array(3).fill(7), new Uint8Array(4096).fill(9).subarray(10, 20)]);
    const onDisk = readFileSync(join(dir, 'copies'));
    expect([...onDisk.subarray(8, 25)]).toEqual([8, 9, 7, 7, 7, ...Array(10).fill(9), 23, 24]);
    mapped.unmap();
    expect(() => mapped.read(0, [a])).toThrow(expect.objectContaining({ code: 'EBADF' }));
  });

  it('copies buffers of many memories, shared ones too, in order', () => {
    const fd = file('memories', new Uint8Array(200 * 512));
    const mapped = MappedFile.map(fd, 200 * 512);
    const shared = new Uint8Array(new SharedArrayBuffer(2048));
    // 150 buffers of their own, every third a view into one shared memory: more memories than
    // one call into the addon takes.
    const buffers = Array.from({ length: 150 }, (_, i) =>
      i % 3 === 2
        ? shared.subarray((Math.floor(i / 3) % 4) * 512, (Math.floor(i / 3) % 4) * 512 + 512)
        : new Uint8Array(512),
    );
    for (const [i, buffer] of buffers.entries()) if (i % 3 !== 2) buffer.fill(i);
    shared.fill(200);
    mapped.write(512, buffers);
    const back = new Uint8Array(150 * 512);
    mapped.read(512, [back]);
    for (let i = 0; i < 150; i++) {
      expect(back[i * 512]).toBe(i % 3 === 2 ? 200 : i);
      expect(back[i * 512 + 511]).toBe(i % 3 === 2 ? 200 : i);
    }
    closeSync(fd);
  });

  it('allocates no more of a sparse file than what it wrote', () => {
    const path = join(dir, 'sparse');
    writeFileSync(path, '');
    truncateSync(path, 4 * 1024 * 1024);
    const fd = openSync(path, 'r+');
    const mapped = MappedFile.map(fd, 4 * 1024 * 1024);
    mapped.write(1024 * 1024, [new Uint8Array(8192).fill(5)]);
    const back = new Uint8Array(3 * 4096);
    mapped.read(1024 * 1024 - 4096, [back]);
    expect(back).toEqual(new Uint8Array(3 * 4096).fill(5, 4096, 3 * 4096));
    // Reading a hole may allocate a page of zeros; nothing near the 4 MiB is taken.
    expect(fstatSync(fd).blocks * 512).toBeLessThanOrEqual(64 * 1024);
    mapped.unmap();
    closeSync(fd);
  });

  it('refuses ranges past the mapping, writes to a read-only one, and what is not a file', () => {
    const fd = file('limits', new Uint8Array(8192));
    const mapped = MappedFile.map(fd, 4096, { writable: false });
    expect(mapped.writable).toBe(false);
    expect(() => mapped.read(4000, [new Uint8Array(97)])).toThrow(
      expect.objectContaining({ code: 'EINVAL' }),
    );
    expect(() => mapped.read(2 ** 40, [new Uint8Array(1)])).toThrow(
      expect.objectContaining({ code: 'EINVAL' }),
    );
    expect(() => mapped.write(0, [new Uint8Array(1)])).toThrow(
      expect.objectContaining({ code: 'EBADF' }),
    );
    expect(() => MappedFile.map(fd, 8193)).toThrow(expect.objectContaining({ code: 'EINVAL' }));
    expect(() => MappedFile.map(fd, 0)).toThrow(expect.objectContaining({ code: 'EINVAL' }));
    const dirFd = openSync(dir, 'r');
    expect(() => MappedFile.map(dirFd, 4096)).toThrow(expect.objectContaining({ code: 'EINVAL' }));
    closeSync(dirFd);
    closeSync(fd);
  });

  it('fails a copy past the end of a file shrunk under it with EIO, and goes on', () => {
    const fd = file('shrinks', new Uint8Array(4 * 4096).fill(1));
    const mapped = MappedFile.map(fd, 4 * 4096);
    ftruncateSync(fd, 4096);
    const page = new Uint8Array(4096);
    expect(() => mapped.read(2 * 4096, [page])).toThrow(expect.objectContaining({ code: 'EIO' }));
    expect(() => mapped.write(3 * 4096, [page])).toThrow(expect.objectContaining({ code: 'EIO' }));
    mapped.read(0, [page]);
    expect(page.every((byte) => byte === 1)).toBe(true);
    closeSync(fd);
  });

  it('leaves a SIGBUS outside its copies fatal, as it was', () => {
    const path = join(dir, 'elsewhere');
    writeFileSync(path, new Uint8Array(8192));
    // The child maps the file twice, guarded and as a plain ArrayBuffer, shrinks it, and touches
    // the plain mapping past the end: that must still kill it.
    const child = `
      const addon = require(${JSON.stringify(nativeAddonPath())});
      const fs = require('node:fs');
      const fd = fs.openSync(${JSON.stringify(path)}, 'r+');
      addon.fileMap(fd, 8192, true);
      const plain = new Uint8Array(addon.mmap(fd, 8192, 0, true));
      fs.ftruncateSync(fd, 0);
      plain[5000] = 1;
      process.exit(0);
    `;
    const outcome = spawnSync(process.execPath, ['-e', child]);
    expect(outcome.signal).toBe('SIGBUS');
  });
});
