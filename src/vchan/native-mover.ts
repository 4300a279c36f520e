import { constants } from 'node:os';
import {
  loadNative,
  type VchanPumpHandle,
  VchanPumpState,
  type XenwireNative,
} from '../device/index.ts';
import { DeviceEventChannel, type EventChannel, toEvtchnError } from '../evtchn/index.ts';
import { RingError, type Vchan, VchanLive } from '../ring/index.ts';
import type { DevicePlatform, RingMover, RingMoverFactory } from '../xenbus/index.ts';
import type { Teardown } from './teardown.ts';

/** How much one step reads at most (the addon's inbox). */
const INBOX_BYTES = 64 * 1024;

const errnoNames = new Map(Object.entries(constants.errno).map(([name, value]) => [value, name]));

/**
 * One end of a vchan whose bytes the native addon moves (`native/src/vchan-pump.c`: the
 * protocol of `tools/libs/vchan/io.c`, step for step as {@link Vchan} does it). Served by the
 * addon on each wake-up of `port` of a `/dev/xen/evtchn` descriptor, or, with `fd` -1, only when
 * stepped (a test drives it so, over ordinary memory).
 * @internal
 */
export class NativeVchanPump implements RingMover {
  readonly #native: XenwireNative;
  readonly #vchan: Vchan;
  readonly #pump: VchanPumpHandle;
  readonly #state = new Int32Array(VchanPumpState.words);
  readonly #inbox = new Uint8Array(INBOX_BYTES);

  /** Whether the pump's thread serves the port (it has a descriptor of its own). */
  readonly servesPort: boolean;

  constructor(vchan: Vchan, fd: number, port: number, woken: () => void = () => {}) {
    const native = loadNative();
    this.#native = native;
    this.#vchan = vchan;
    this.servesPort = fd >= 0;
    const { page, left, right } = vchan.memory;
    this.#pump = native.vchanPumpOpen(
      vchan.role === 'server',
      page,
      left,
      right,
      this.#inbox,
      this.#state,
      fd,
      port,
      () => {
        native.vchanPumpTake(this.#pump);
        woken();
      },
    );
  }

  step(chunk: Uint8Array | null, offset: number): void {
    this.#native.vchanPumpStep(this.#pump, chunk, offset);
  }

  get wantRead(): boolean {
    return this.#state[VchanPumpState.wantRead] !== 0;
  }

  set wantRead(on: boolean) {
    // The pump's thread reads this word as it runs a round.
    Atomics.store(this.#state, VchanPumpState.wantRead, on ? 1 : 0);
  }

  get offset(): number {
    return this.#state[VchanPumpState.offset] as number;
  }

  get received(): Uint8Array {
    return this.#inbox.subarray(0, this.#state[VchanPumpState.received]);
  }

  /** The peer's live byte ({@link VchanLive}) as the last step saw it before reading. */
  get peerLive(): number {
    return this.#state[VchanPumpState.peerLive] as number;
  }

  get peerDone(): boolean {
    return this.peerLive === VchanLive.EXITED;
  }

  /** How many times a step decided to wake the peer (one event serves both directions). */
  get notifies(): number {
    return this.#state[VchanPumpState.notifies] as number;
  }

  get error(): Error | undefined {
    const errno = this.#state[VchanPumpState.error] as number;
    if (errno === 0) return undefined;
    if (errno === constants.errno.EPROTO) {
      // The JavaScript end's error names the ring and its indexes, if they are still corrupt.
      const { left, right, role } = this.#vchan;
      const written = role === 'server' ? right : left;
      const read = role === 'server' ? left : right;
      try {
        (this.#state[VchanPumpState.badRing] === 0 ? written : read).used();
      } catch (error) {
        return error as Error;
      }
      return new RingError('EPROTO', 'vchan: the peer moved an index past the ring');
    }
    const code = errnoNames.get(errno) ?? 'EIO';
    return toEvtchnError(Object.assign(new Error(code), { code }), 'vchan notify or unmask');
  }

  close(): void {
    this.#native.vchanPumpClose(this.#pump);
  }
}

/**
 * The native mover of a vchan end whose port is bound through an evtchn device handle of its
 * own ({@link vchanEventChannel}); undefined elsewhere (the simulated host), where the JavaScript
 * end moves the bytes.
 */
export function nativeVchanMover(
  vchan: Vchan,
  events: EventChannel,
  port: number,
): RingMoverFactory | undefined {
  if (!(events instanceof DeviceEventChannel)) return undefined;
  return (woken) => new NativeVchanPump(vchan, events.fd, port, woken);
}

/**
 * The event-channel handle a vchan binds its port through: on the device one of its own, as
 * libxenvchan opens one per vchan, so that the pump's thread can wait on it alone (closed by
 * `teardown`); the platform's elsewhere.
 */
export function vchanEventChannel(platform: DevicePlatform, teardown: Teardown): EventChannel {
  if (!(platform.eventChannel instanceof DeviceEventChannel)) return platform.eventChannel;
  const own = DeviceEventChannel.open();
  teardown.add(() => own.close());
  return own;
}
