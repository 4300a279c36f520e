type Phase = 'probe-spin' | 'probe-sleep' | 'follow';

/**
 * Decides whether a waiter should keep its thread busy (spin) or sleep in the kernel, from what
 * each way has cost in this process, on this machine, against this peer.
 *
 * Neither way wins everywhere. When the peer runs on another CPU, a sleeping thread pays for the
 * peer's wake-up of it (an inter-processor interrupt, an idle CPU brought back, cold caches);
 * spinning avoids all of that and can halve a round trip. When both share one CPU, a spinner
 * only delays the peer it waits for. Which case applies is up to the scheduler and can change
 * at any time, so the policy keeps measuring: it tries each way for a short probe, follows the
 * cheaper one for a long stretch, and probes again.
 *
 * The cost of a way is its mean wait: the time from a request to its answer. Spinning also
 * burns CPU the peer or other processes could use, so it must win clearly.
 */
export class SpinPolicy {
  /** Answers each probe lasts. */
  static readonly PROBE = 64;
  /** Answers the cheaper way is followed for between two rounds of probes. */
  static readonly STRETCH = 4096;
  /** Spinning is chosen only when its mean wait is at most this share of sleeping's. */
  static readonly MARGIN = 0.9;

  #phase: Phase = 'probe-spin';
  #spin = true;
  #answers = 0;
  #waited = 0;
  #spinGap = 0;

  /** Whether a wait starting now should spin. */
  get spinning(): boolean {
    return this.#spin;
  }

  /** Whether answers' waits are being measured; while not, {@link record} ignores the time. */
  get measuring(): boolean {
    return this.#phase !== 'follow';
  }

  /** Records one answer that came `wait` milliseconds after its request. */
  record(wait: number): void {
    this.#waited += wait;
    this.#answers++;
    switch (this.#phase) {
      case 'probe-spin':
        if (this.#answers < SpinPolicy.PROBE) return;
        this.#spinGap = this.#waited / this.#answers;
        this.#enter('probe-sleep', false);
        return;
      case 'probe-sleep':
        if (this.#answers < SpinPolicy.PROBE) return;
        this.#enter('follow', this.#spinGap <= SpinPolicy.MARGIN * (this.#waited / this.#answers));
        return;
      case 'follow':
        if (this.#answers < SpinPolicy.STRETCH) return;
        this.#enter('probe-spin', true);
    }
  }

  #enter(phase: Phase, spin: boolean): void {
    this.#phase = phase;
    this.#spin = spin;
    this.#answers = 0;
    this.#waited = 0;
  }
}
