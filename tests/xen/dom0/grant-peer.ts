// The other process of grants.dom0.ts: maps pages that the test granted with gntalloc through
// /dev/xen/gntdev, as a backend in another domain would, and either answers on the page (echo),
// consumes a flex ring's byte stream (flex) or answers a ring.h ring's requests (sring). The ring
// modes bind to the event channel port the test offered, print `ready`, and sleep on it whenever
// their ring has nothing for them. Prints one JSON line with what it saw.
//   node --import tsx grant-peer.ts echo DOMID REF
//   node --import tsx grant-peer.ts flex DOMID PORT BYTES INTF_REF
//   node --import tsx grant-peer.ts sring DOMID PORT REQUESTS REF
import { GrantMapper } from '../../../src/device/index.ts';
import {
  FlexIntfOffset,
  FlexRing,
  flexRingSize,
  RingArea,
  XEN_PAGE_SIZE,
} from '../../../src/ring/index.ts';
import { EventPort } from './grant-events.ts';
import {
  answerTo,
  ECHO_ENTRY_WORDS,
  ECHO_RING,
  operandOf,
  patternByte,
} from './grant-ring-layout.ts';

const [mode, domidArg, ...rest] = process.argv.slice(2);
const domid = Number(domidArg);
const mapper = GrantMapper.open();

if (mode === 'echo') {
  const mapping = mapper.map(domid, [Number(rest[0])]);
  const page = new Uint8Array(mapping.buffer);
  const seen = Buffer.from(page.subarray(0, page.indexOf(0))).toString('utf8');
  Buffer.from(`peer ${process.pid} read: ${seen}\0`).copy(page, 2048);
  console.log(JSON.stringify({ seen }));
  mapping.release();
} else if (mode === 'flex') {
  const [port, total, intfRef] = rest.map(Number) as [number, number, number];
  // As a pvcalls backend does: the interface page says the order and where the data pages are.
  const intf = mapper.map(domid, [intfRef]);
  const header = new RingArea(intf.buffer, 0, undefined, 'flex interface');
  const order = header.load(FlexIntfOffset.ringOrder);
  // flexRingSize refuses an order out of range before it sizes anything.
  const pages = (2 * flexRingSize(order)) / XEN_PAGE_SIZE;
  const refs = Array.from({ length: pages }, (_, i) => header.load(FlexIntfOffset.ref + 4 * i));
  const data = mapper.map(domid, refs);
  const events = EventPort.connect(domid, port);
  const ring = new FlexRing('backend', intf.buffer, data.buffer, order, { notify: events.notify });
  process.stdout.write('ready\n');
  const chunk = new Uint8Array(16384);
  let received = 0;
  let mismatches = 0;
  // Timed here, from the first byte to the last: neither process's start nor exit counts.
  let started = 0n;
  while (received < total) {
    // The ring notifies the producer when this read made room in a full ring.
    const n = ring.read(chunk);
    if (n === 0) {
      await events.wait('data');
      continue;
    }
    if (received === 0) started = process.hrtime.bigint();
    for (let i = 0; i < n; i++) if (chunk[i] !== patternByte(received + i)) mismatches++;
    received += n;
  }
  const seconds = Number(process.hrtime.bigint() - started) / 1e9;
  console.log(
    JSON.stringify({
      received,
      mismatches,
      seconds,
      notified: events.notified,
      woken: events.woken,
    }),
  );
  events.close();
  data.release();
  intf.release();
} else if (mode === 'sring') {
  const [port, total, ref] = rest.map(Number) as [number, number, number];
  const page = mapper.map(domid, [ref]);
  const events = EventPort.connect(domid, port);
  const back = ECHO_RING.attachBack(page.buffer);
  process.stdout.write('ready\n');
  const requests = new Uint32Array(back.size * ECHO_ENTRY_WORDS);
  const responses = new Uint32Array(back.size * ECHO_ENTRY_WORDS);
  const requestBytes = new Uint8Array(requests.buffer);
  const responseBytes = new Uint8Array(responses.buffer);
  let handled = 0;
  let mismatches = 0;
  while (handled < total) {
    const n = back.takeRequests(requestBytes);
    if (n === 0) {
      // RING_FINAL_CHECK_FOR_REQUESTS: re-arms req_event, so the next push notifies.
      if (!back.finalCheckForRequests()) await events.wait('requests');
      continue;
    }
    for (let i = 0; i < n; i++) {
      const at = i * ECHO_ENTRY_WORDS;
      const id = requests[at]!;
      const operand = requests[at + 1]!;
      if (id !== handled + i || operand !== operandOf(id)) mismatches++;
      responses[at] = id;
      responses[at + 1] = answerTo(operand);
    }
    back.writeResponses(responseBytes, n);
    if (back.pushResponses()) events.notify();
    handled += n;
  }
  console.log(
    JSON.stringify({ handled, mismatches, notified: events.notified, woken: events.woken }),
  );
  events.close();
  page.release();
} else {
  throw new Error(`grant-peer: unknown mode ${mode}`);
}
mapper.close();
