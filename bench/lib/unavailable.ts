/**
 * Thrown by a setup step when something outside the project is missing (a compiler, the Xen
 * packages, the shim), so the pair is reported as skipped rather than failed. Anything else a
 * setup throws is a bug and fails the pair.
 */
export class Unavailable extends Error {
  override readonly name = 'Unavailable';
}

/** Runs `step`, recasting any error it throws as {@link Unavailable} with `what` in front. */
export async function prerequisite<T>(what: string, step: () => Promise<T>): Promise<T> {
  try {
    return await step();
  } catch (error) {
    throw new Unavailable(`${what}: ${error instanceof Error ? error.message : String(error)}`);
  }
}
