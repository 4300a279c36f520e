import { startCXenstored, type XenstoreDaemon } from './daemons.ts';
import type { BenchPair } from './types.ts';
import { prerequisite, Unavailable } from './unavailable.ts';
import { buildXsLoop } from './xs-loop.ts';

/** What one xenstore pair needs running before it is measured. */
export interface XenstoreNeeds {
  /** The real C xenstored. */
  readonly cDaemon?: boolean;
  /** The C libxenstore loop, compiled. */
  readonly xsLoop?: boolean;
}

/**
 * The daemons and programs of one xenstore pair, as the pair's setup/unavailable/teardown hooks.
 * Each pair gets fresh daemons, so no pair measures a store another one filled. A missing
 * prerequisite ({@link Unavailable}) makes the pair skipped; any other setup error fails it.
 */
export class XenstoreFixture {
  readonly #needs: XenstoreNeeds;
  #reason: string | undefined;
  #cDaemon: XenstoreDaemon | undefined;
  #xsLoop: string | undefined;
  #runs = 0;

  constructor(needs: XenstoreNeeds) {
    this.#needs = needs;
  }

  /** The hooks to spread into a {@link BenchPair}. */
  get hooks(): Required<Pick<BenchPair, 'setup' | 'teardown' | 'unavailable'>> {
    return {
      setup: () => this.#setup(),
      teardown: () => this.#teardown(),
      unavailable: async () => this.#reason,
    };
  }

  get cDaemon(): XenstoreDaemon {
    return started(this.#cDaemon, 'the C xenstored');
  }

  get xsLoop(): string {
    return started(this.#xsLoop, 'xs-loop');
  }

  /** A node no earlier run of this pair used, so that runs never see each other's leftovers. */
  nextBase(side: string): string {
    this.#runs += 1;
    return `/bench/${side}/${this.#runs}`;
  }

  async #setup(): Promise<void> {
    try {
      if (this.#needs.xsLoop) {
        this.#xsLoop = await prerequisite('the C libxenstore loop', buildXsLoop);
      }
      if (this.#needs.cDaemon) this.#cDaemon = await startCXenstored();
    } catch (error) {
      if (!(error instanceof Unavailable)) throw error;
      this.#reason = error.message;
    }
  }

  async #teardown(): Promise<void> {
    await this.#cDaemon?.stop();
    this.#cDaemon = undefined;
  }
}

function started<T>(value: T | undefined, what: string): T {
  if (value === undefined) throw new Error(`${what} was not started (setup did not run?)`);
  return value;
}
