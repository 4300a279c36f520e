/** Path of the built addon. */
export declare const addonPath: string;
/** Outcome of {@link buildNative}. */
export type BuildOutcome =
  | { ok: true; path: string }
  | {
      ok: false;
      reason: string;
      /** True when the tools to build it are missing, rather than the build failing. */
      toolchain: boolean;
    };
/** Builds the native addon unless it is newer than its sources; never throws for a missing toolchain. */
export declare function buildNative(options?: { force?: boolean }): BuildOutcome;
