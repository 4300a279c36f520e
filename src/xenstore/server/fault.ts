/**
 * Seeded pseudo-random choice of transaction commits to fail with EAGAIN, so that client retry
 * loops can be tested reproducibly. mulberry32: tiny, fast, and good enough for a test knob.
 */
export class CommitFaults {
  #state: number;

  /** `rate` is the probability (0..1) that a commit which would succeed answers EAGAIN instead. */
  constructor(
    readonly rate: number,
    seed = 1,
  ) {
    this.#state = seed >>> 0;
  }

  /** True when this commit should fail. */
  failNext(): boolean {
    if (this.rate <= 0) return false;
    this.#state = (this.#state + 0x6d2b79f5) >>> 0;
    let t = this.#state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    const draw = ((t ^ (t >>> 14)) >>> 0) / 4294967296;
    return draw < this.rate;
  }
}
