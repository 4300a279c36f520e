import {
  type BackRing,
  type ByteRing,
  ConsoleRing,
  defineRing,
  FlexRing,
  type FrontRing,
  RingError,
  RingIndexError,
  XenstoreRing,
} from '../../../src/ring/index.ts';
import { fillPattern, fnv1a } from './pattern.ts';

/**
 * Runs the command language of tests/ring/ref/ring-ref.c against the TypeScript rings and
 * prints what the C reference prints, line for line.
 */

/** Entry sizes the reference defines ring types for: entry → [request, response] bytes. */
export const ENTRY_TYPES: ReadonlyMap<number, readonly [number, number]> = new Map([
  [1, [1, 1]],
  [12, [12, 8]],
  [36, [20, 36]],
  [64, [64, 64]],
  [112, [112, 16]],
  [113, [113, 9]],
]);

function byteRing(buffer: ArrayBuffer, name: string): ByteRing {
  if (name === 'xsreq') return new XenstoreRing('guest', buffer).requests;
  if (name === 'xsrsp') return new XenstoreRing('guest', buffer).responses;
  if (name === 'consin') return new ConsoleRing('guest', buffer).input;
  if (name === 'consout') return new ConsoleRing('guest', buffer).output;
  const flex = /^flex(in|out)(\d+)$/.exec(name);
  if (flex) {
    const ring = new FlexRing('frontend', buffer, buffer, Number(flex[2]), { dataOffset: 4096 });
    return flex[1] === 'in' ? ring.in : ring.out;
  }
  throw new Error(`unknown ring ${name}`);
}

/** Turns the two errors a hostile peer can cause into the reference's output. */
function guarded(op: () => string): string {
  try {
    return op();
  } catch (e) {
    if (e instanceof RingIndexError) return 'EPROTO';
    if (e instanceof RingError && e.code === 'ENOSPC') return 'ENOSPC';
    throw e;
  }
}

export function runTypescript(script: readonly string[]): string[] {
  const out: string[] = [];
  let buffer = new ArrayBuffer(0);
  let front: FrontRing | undefined;
  let back: BackRing | undefined;
  let sizes: readonly [number, number] = [0, 0];
  const ringPair = (entry: number, bytes: number, index: number | undefined) => {
    sizes = ENTRY_TYPES.get(entry)!;
    const type = defineRing({ name: `r${entry}`, requestSize: sizes[0], responseSize: sizes[1] });
    front =
      index === undefined
        ? type.initFront(buffer, { byteLength: bytes })
        : type.attachFront(buffer, { byteLength: bytes }, index);
    back = type.attachBack(buffer, { byteLength: bytes }, index ?? 0);
    out.push(String(front.size));
  };
  for (const line of script) {
    const [cmd, ...args] = line.split(' ');
    const num = (i: number) => Number(args[i]);
    switch (cmd) {
      case 'area':
        buffer = new ArrayBuffer(num(0));
        break;
      case 'poke':
        new DataView(buffer).setUint32(num(0), num(1), true);
        break;
      case 'dump':
        out.push(Buffer.from(buffer).toString('hex'));
        break;
      case 'bw':
        out.push(
          guarded(() => {
            const ring = byteRing(buffer, args[0]!);
            const n = ring.write(fillPattern(new Uint8Array(num(1)), num(2)));
            return `${n} ${ring.notifyNeeded ? 1 : 0}`;
          }),
        );
        break;
      case 'br':
        out.push(
          guarded(() => {
            const ring = byteRing(buffer, args[0]!);
            const dst = new Uint8Array(num(1));
            const n = ring.read(dst);
            return `${n} ${ring.notifyNeeded ? 1 : 0} ${fnv1a(dst.subarray(0, n))}`;
          }),
        );
        break;
      case 'sinit':
        ringPair(num(0), num(1), undefined);
        break;
      case 'sattach':
        ringPair(num(0), num(1), num(2));
        break;
      case 'freq':
        out.push(
          guarded(() => {
            fillPattern(front!.nextRequest().subarray(0, sizes[0]), num(0));
            return 'ok';
          }),
        );
        break;
      case 'brsp':
        out.push(
          guarded(() => {
            fillPattern(back!.nextResponse().subarray(0, sizes[1]), num(0));
            return 'ok';
          }),
        );
        break;
      case 'fpush':
        out.push(front!.pushRequests() ? '1' : '0');
        break;
      case 'bpush':
        out.push(back!.pushResponses() ? '1' : '0');
        break;
      case 'btake':
        out.push(
          guarded(() => {
            const req = back!.takeRequest();
            return req === undefined ? 'none' : String(fnv1a(req.subarray(0, sizes[0])));
          }),
        );
        break;
      case 'ftake':
        out.push(
          guarded(() => {
            const rsp = front!.takeResponse();
            return rsp === undefined ? 'none' : String(fnv1a(rsp.subarray(0, sizes[1])));
          }),
        );
        break;
      case 'ffinal':
        out.push(guarded(() => (front!.finalCheckForResponses() ? '1' : '0')));
        break;
      case 'bfinal':
        out.push(guarded(() => (back!.finalCheckForRequests() ? '1' : '0')));
        break;
      case 'fstat':
        out.push(guarded(() => `${front!.freeRequests} ${front!.unconsumedResponses()}`));
        break;
      case 'bstat':
        out.push(guarded(() => String(back!.unconsumedRequests())));
        break;
      default:
        throw new Error(`unknown command ${line}`);
    }
  }
  return out;
}
