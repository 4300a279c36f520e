// The other process of grants.dom0.ts: maps pages that the test granted with gntalloc through
// /dev/xen/gntdev, as a backend in another domain would, and either answers on the page (echo) or
// consumes a byte ring laid over the pages (ring). Prints one JSON line with what it saw.
//   node --import tsx grant-peer.ts echo DOMID REF
//   node --import tsx grant-peer.ts ring DOMID BYTES REF...
import { closeSync, openSync } from 'node:fs';
import { loadNative } from '../../../src/evtchn/native.ts';
import { ByteRing } from '../../../src/ring/byte-ring.ts';
import { RingArea, XEN_PAGE_SIZE } from '../../../src/ring/memory.ts';
import { GRANT_RING_LAYOUT, patternByte } from './grant-ring-layout.ts';

const [mode, domidArg, ...rest] = process.argv.slice(2);
const native = loadNative();
const fd = openSync('/dev/xen/gntdev', 'r+');

function mapRefs(refs: number[]): ArrayBuffer {
  const offset = native.gntdevMapGrantRefs(fd, Number(domidArg), refs);
  return native.mmap(fd, refs.length * XEN_PAGE_SIZE, offset, true);
}

if (mode === 'echo') {
  const page = new Uint8Array(mapRefs([Number(rest[0])]));
  const seen = Buffer.from(page.subarray(0, page.indexOf(0))).toString('utf8');
  Buffer.from(`peer ${process.pid} read: ${seen}\0`).copy(page, 2048);
  console.log(JSON.stringify({ seen }));
} else if (mode === 'ring') {
  const total = Number(rest[0]);
  const buffer = mapRefs(rest.slice(1).map(Number));
  const ring = new ByteRing(new RingArea(buffer, 0, undefined, 'grant ring'), GRANT_RING_LAYOUT);
  // Tell the producer the pages are mapped before it starts timing.
  process.stdout.write('mapped\n');
  const chunk = new Uint8Array(16384);
  let received = 0;
  let mismatches = 0;
  let idle = 0;
  while (received < total) {
    const n = ring.read(chunk);
    if (n === 0) {
      // No event channel here: yield and poll again.
      idle++;
      await new Promise(setImmediate);
      continue;
    }
    for (let i = 0; i < n; i++) if (chunk[i] !== patternByte(received + i)) mismatches++;
    received += n;
  }
  console.log(JSON.stringify({ received, mismatches, idle }));
  native.munmap(buffer);
} else {
  throw new Error(`grant-peer: unknown mode ${mode}`);
}
closeSync(fd);
