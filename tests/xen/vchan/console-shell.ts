/**
 * A shell on a guest's console, driven from Dom0 through xenwire's console backend: what the
 * guest prints is kept (and shown, line by line, for the log) so that a test can wait for a
 * pattern; commands are typed in as lines.
 */
import type { ConsoleStream } from '../../../src/console/index.ts';

export class ConsoleShell {
  #text = '';
  #line = '';
  #waiters: (() => void)[] = [];
  #ended = false;

  constructor(
    readonly console: ConsoleStream,
    show: (line: string) => void,
  ) {
    console.on('data', (chunk: Buffer) => {
      const text = chunk.toString('latin1').replaceAll('\r', '');
      this.#text += text;
      this.#line += text;
      const lines = this.#line.split('\n');
      this.#line = lines.pop() as string;
      for (const line of lines) show(line);
      this.#wake();
    });
    console.once('end', () => {
      this.#ended = true;
      this.#wake();
    });
  }

  /** Everything the guest printed so far. */
  get text(): string {
    return this.#text;
  }

  /** Whether the console has ended. */
  get ended(): boolean {
    return this.#ended;
  }

  /** Types `command` and a newline. */
  type(command: string): void {
    this.console.write(`${command}\n`);
  }

  /**
   * Resolves with the first match of `pattern` in what the guest prints from now on (`from`:
   * an offset into {@link text}); fails after `timeoutMs`, when the console ends, or when
   * `signal` aborts.
   */
  async waitFor(
    pattern: RegExp,
    timeoutMs: number,
    from = this.#text.length,
    signal?: AbortSignal,
  ): Promise<RegExpMatchArray> {
    const deadline = Date.now() + timeoutMs;
    const onAbort = (): void => this.#wake();
    signal?.addEventListener('abort', onAbort);
    try {
      for (;;) {
        const match = this.#text.slice(from).match(pattern);
        if (match) return match;
        if (signal?.aborted) throw new Error(`no longer waiting for ${pattern}`);
        if (this.#ended) throw new Error(`the console ended before ${pattern}`);
        const left = deadline - Date.now();
        if (left <= 0) throw new Error(`no ${pattern} on the console within ${timeoutMs} ms`);
        await new Promise<void>((resolve) => {
          const timer = setTimeout(resolve, left);
          this.#waiters.push(() => {
            clearTimeout(timer);
            resolve();
          });
        });
      }
    } finally {
      signal?.removeEventListener('abort', onAbort);
    }
  }

  #wake(): void {
    for (const wake of this.#waiters.splice(0)) wake();
  }
}

/**
 * Types `command` until `answer` appears after it: up to `tries` times, `everyMs` apart. A line
 * typed while the guest's shell is still setting up its terminal can be lost.
 */
export async function typeUntilAnswered(
  shell: ConsoleShell,
  command: string,
  answer: RegExp,
  tries = 6,
  everyMs = 30_000,
): Promise<RegExpMatchArray> {
  const from = shell.text.length;
  for (let attempt = 1; ; attempt++) {
    shell.type(command);
    try {
      return await shell.waitFor(answer, everyMs, from);
    } catch (error) {
      if (attempt >= tries || shell.ended) throw error;
    }
  }
}
