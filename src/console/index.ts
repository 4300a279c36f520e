/**
 * `xenwire/console`: a PV console backend. {@link openConsole} attaches to a guest's console
 * page (`io/console.h`) in xenconsoled's place and returns a {@link ConsoleStream}: the guest's
 * output to read, its keyboard input to write. `xenwire console DOMID` is the command built on
 * it. See `README.md` here.
 *
 * @packageDocumentation
 */
export { ConsoleStream } from './console-stream.ts';
export { ConsoleError, type ConsoleErrorCode } from './errors.ts';
export { type ConsoleOptions, openConsole, XENWIRE_CONSOLE_TTY } from './open-console.ts';
