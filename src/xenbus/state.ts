import { XenbusError } from './errors.ts';

/**
 * The states of a xenbus device end (`enum xenbus_state`, `xen/include/public/io/xenbus.h`), as
 * each end writes them to its `state` key.
 */
export const XenbusState = {
  /** No state written yet (or the key is gone). */
  Unknown: 0,
  /** The end is setting itself up. */
  Initialising: 1,
  /** The backend is ready for the frontend's details (rings, event channel). */
  InitWait: 2,
  /** The frontend has published its details. */
  Initialised: 3,
  /** Both ends are attached; the device is in use. */
  Connected: 4,
  /** The end is going away; the peer should disconnect. */
  Closing: 5,
  /** The end has released its resources; the device can be removed or set up again. */
  Closed: 6,
  /** The backend is changing the device's configuration (used by PV PCI hotplug). */
  Reconfiguring: 7,
  /** The reconfiguration is done; the frontend picks up the change. */
  Reconfigured: 8,
} as const;

export type XenbusState = (typeof XenbusState)[keyof typeof XenbusState];

const names = Object.fromEntries(Object.entries(XenbusState).map(([k, v]) => [v, k])) as Record<
  number,
  string
>;

/** `Connected` for 4, `state 42` for a value outside the enum (for messages). */
export function xenbusStateName(state: number | undefined): string {
  if (state === undefined) return 'absent';
  return names[state] ?? `state ${state}`;
}

/**
 * Parses a `state` node as the kernel's `xenbus_read_driver_state` does (a decimal integer).
 * @throws XenbusError `EPROTO` for anything that is not one of the nine states
 */
export function parseXenbusState(text: string, path: string): XenbusState {
  const value = /^\d{1,2}$/.test(text) ? Number(text) : Number.NaN;
  if (!(value in names)) {
    throw new XenbusError('EPROTO', `${path} holds ${JSON.stringify(text)}, not a xenbus state`);
  }
  return value as XenbusState;
}
