import type { CliIo } from './io.ts';

/**
 * A one-line progress counter on stderr, redrawn in place at most a few times a second. It is
 * shown only when stderr is a terminal (logs and pipes never see it) and stdout is not: output
 * going to the same terminal would run into the counter line, and shows progress by itself.
 */
export class Progress {
  #count = 0;
  #lastDraw = 0;
  #drawn = false;
  readonly #enabled: boolean;

  constructor(
    private readonly io: CliIo,
    private readonly label: string,
  ) {
    this.#enabled = Boolean(io.stderr.isTTY) && !io.stdout.isTTY;
  }

  /** Counts `n` more items. */
  tick(n = 1): void {
    this.#count += n;
    if (!this.#enabled) return;
    const now = Date.now();
    if (now - this.#lastDraw < 200) return;
    this.#lastDraw = now;
    this.#drawn = true;
    this.io.stderr.write(`\r\x1b[K${this.#count} ${this.label}`);
  }

  /** Erases the counter line, if one was drawn. */
  done(): void {
    if (this.#drawn) this.io.stderr.write('\r\x1b[K');
    this.#drawn = false;
  }
}
