/**
 * What an end has taken (a port, pages, a watch, xenstore nodes), given back in the reverse
 * order: each step is tried even if an earlier one failed, and the first failure is reported.
 */
export class Teardown {
  readonly #steps: (() => void | Promise<void>)[] = [];

  /** Adds a step; it runs before every step added earlier. */
  add(step: () => void | Promise<void>): void {
    this.#steps.push(step);
  }

  /** Runs every step once, last added first. */
  async run(): Promise<void> {
    let failure: unknown;
    for (const step of this.#steps.splice(0).reverse()) {
      try {
        await step();
      } catch (error) {
        failure ??= error;
      }
    }
    if (failure !== undefined) throw failure;
  }
}
