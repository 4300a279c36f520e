import { isNativeAvailable, loadNative } from '../../src/device/index.ts';
import type { Futex } from '../../src/ring/index.ts';

/**
 * The futex the stream's doorbells sleep on: the native addon's when it is built, so that both
 * programs wake each other through the kernel futex (`stream.c` calls it directly); otherwise
 * none, and `AtomicsEvent` falls back to `Atomics.wait`, which costs about twice as much per
 * wake-up.
 */
export function doorbellFutex(): Futex | undefined {
  return isNativeAvailable() ? loadNative() : undefined;
}

/** How the candidate's doorbells sleep, for the benchmark's labels. */
export function doorbellKind(): string {
  return doorbellFutex() ? 'futex' : 'Atomics.wait';
}
