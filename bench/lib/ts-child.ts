import { type ChildProcess, spawn } from 'node:child_process';
import { basename } from 'node:path';
import { createInterface } from 'node:readline';

/**
 * The command running a TypeScript entry point of the bench in its own Node process (through
 * tsx, like the runner), with `gc()` exposed so that it can measure its own heap.
 */
export function tsCommand(
  script: string,
  args: readonly string[],
): { command: string; args: string[]; name: string } {
  return {
    command: process.execPath,
    args: ['--expose-gc', '--import', 'tsx', script, ...args],
    name: basename(script),
  };
}

/**
 * Starts a TypeScript entry point of the bench in its own Node process (see {@link tsCommand}).
 * A separate process gives a daemon its own event loop and heap, as the C daemon has.
 */
export function spawnTs(script: string, args: readonly string[]): ChildProcess {
  const { command, args: argv } = tsCommand(script, args);
  return spawn(command, argv, {
    // stdin stays open as a lifeline: a daemon child exits when it closes, even if we crash.
    stdio: ['pipe', 'pipe', 'inherit'],
  });
}

/** The next line the child prints (its first, at start), parsed as JSON; rejects if it exits first. */
export function firstJsonLine<T>(child: ChildProcess): Promise<T> {
  return new Promise((resolve, reject) => {
    const lines = createInterface({ input: child.stdout! });
    const exited = (code: number | null): void =>
      reject(new Error(`child exited (${code}) before reporting`));
    child.once('exit', exited);
    child.once('error', reject);
    lines.once('line', (line) => {
      child.off('exit', exited);
      lines.close();
      try {
        resolve(JSON.parse(line) as T);
      } catch (error) {
        reject(error);
      }
    });
  });
}
