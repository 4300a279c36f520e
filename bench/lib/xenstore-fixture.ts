import {
  type MockOptions,
  type RealDaemon,
  startMockXenstored,
  startNullXenstored,
  startRealDaemon,
  type XenstoreDaemon,
} from './daemons.ts';
import type { BenchPair, RunOptions } from './types.ts';
import { prerequisite, Unavailable } from './unavailable.ts';
import { holdUnrelatedWatches, type Watchers, type WatchLoad } from './watchers.ts';
import { buildXsLoop } from './xs-loop.ts';

/** What one xenstore pair needs running before it is measured. */
export interface XenstoreNeeds {
  /** One of Xen's own daemons. */
  readonly realDaemon?: RealDaemon;
  /** A daemon that answers every request at once and does nothing else (`null-xenstored.c`). */
  readonly nullDaemon?: boolean;
  /** The C libxenstore loop, compiled. */
  readonly xsLoop?: boolean;
  /**
   * The in-memory xenstored in its own process: `true` for an empty store with the default
   * listener, or a function giving how to start it for the run options.
   */
  readonly mock?: true | ((options: RunOptions) => MockOptions);
  /** A second in-memory xenstored, started so, and holding `watches` when given. */
  readonly secondMock?: MockOptions & { readonly watches?: WatchLoad };
}

/**
 * The daemons and programs of one xenstore pair, as the pair's setup/unavailable/teardown hooks.
 * Each pair gets fresh daemons, so no pair measures a store another one filled. A missing
 * prerequisite ({@link Unavailable}) makes the pair skipped; any other setup error fails it.
 */
export class XenstoreFixture {
  readonly #needs: XenstoreNeeds;
  #reason: string | undefined;
  #xsLoop: string | undefined;
  #daemons: {
    real?: XenstoreDaemon;
    null?: XenstoreDaemon;
    mock?: XenstoreDaemon;
    second?: XenstoreDaemon;
  } = {};
  #watchers: Watchers | undefined;
  #runs = 0;

  constructor(needs: XenstoreNeeds) {
    this.#needs = needs;
  }

  /** The hooks to spread into a {@link BenchPair}. */
  get hooks(): Required<Pick<BenchPair, 'setup' | 'teardown' | 'unavailable'>> {
    return {
      setup: (options) => this.#setup(options),
      teardown: () => this.#teardown(),
      unavailable: async () => this.#reason,
    };
  }

  get realDaemon(): XenstoreDaemon {
    return started(this.#daemons.real, this.#needs.realDaemon ?? 'the real daemon');
  }

  get nullDaemon(): XenstoreDaemon {
    return started(this.#daemons.null, 'the null xenstored');
  }

  get mock(): XenstoreDaemon {
    return started(this.#daemons.mock, 'the in-memory xenstored');
  }

  get secondMock(): XenstoreDaemon {
    return started(this.#daemons.second, 'the second in-memory xenstored');
  }

  get xsLoop(): string {
    return started(this.#xsLoop, 'xs-loop');
  }

  /** A node no earlier run of this pair used, so that runs never see each other's leftovers. */
  nextBase(side: string): string {
    this.#runs += 1;
    return `/bench/${side}/${this.#runs}`;
  }

  async #setup(options: RunOptions): Promise<void> {
    const needs = this.#needs;
    // Set up afresh each time: a pair runs once per condition.
    this.#reason = undefined;
    // The in-memory daemons are Node processes that take a while to boot: start them first, so
    // that they boot while the rest is prepared.
    const mock = needs.mock
      ? startMockXenstored(needs.mock === true ? {} : needs.mock(options))
      : undefined;
    const { watches, ...secondOptions } = needs.secondMock ?? {};
    const second = needs.secondMock ? startMockXenstored(secondOptions) : undefined;
    try {
      if (needs.xsLoop) this.#xsLoop = await prerequisite('the C libxenstore loop', buildXsLoop);
      if (needs.realDaemon) this.#daemons.real = await startRealDaemon(needs.realDaemon);
      if (needs.nullDaemon) this.#daemons.null = await startNullXenstored();
    } catch (error) {
      if (!(error instanceof Unavailable)) throw error;
      this.#reason = error.message;
    } finally {
      // Kept even when the pair is skipped, so that teardown stops them.
      this.#daemons.mock = await mock;
      this.#daemons.second = await second;
    }
    if (this.#reason === undefined && this.#daemons.second && watches) {
      this.#watchers = await holdUnrelatedWatches(this.#daemons.second.socketPath, watches);
    }
  }

  async #teardown(): Promise<void> {
    await this.#watchers?.close();
    this.#watchers = undefined;
    const daemons = Object.values(this.#daemons).filter((daemon) => daemon !== undefined);
    this.#daemons = {};
    await Promise.all(daemons.map((daemon) => daemon.stop()));
  }
}

function started<T>(value: T | undefined, what: string): T {
  if (value === undefined) throw new Error(`${what} was not started (setup did not run?)`);
  return value;
}
