import { CodedError } from '../device/index.ts';
/**
 * Why attaching to or using a guest's console failed:
 *
 * - `EINVAL`: a bad domain id;
 * - `ENOENT`: the domain has no console (no `console/port` in its xenstore home);
 * - `ETIMEDOUT`: the toolstack did not write it within the time given;
 * - `EPROTO`: its console nodes are malformed;
 * - `EBUSY`: another backend (usually xenconsoled) holds the console's event channel;
 * - `EPIPE`: input written after the domain went away.
 */
export type ConsoleErrorCode = 'EINVAL' | 'ENOENT' | 'ETIMEDOUT' | 'EPROTO' | 'EBUSY' | 'EPIPE';

/** Failure of a console backend. */
export class ConsoleError extends CodedError<ConsoleErrorCode> {
  /** Always `'ConsoleError'`. */
  override readonly name = 'ConsoleError';
}
