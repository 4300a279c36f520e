import type { CheckContext } from './context.ts';

/** The areas of the catalogue, one file each under `checks/`, in report order. */
export const AREAS = [
  'wire',
  'paths',
  'tree',
  'permissions',
  'watches',
  'transactions',
  'domains',
  'quotas',
  'directory-part',
  'control',
] as const;

/** An area of xenstore semantics. */
export type Area = (typeof AREAS)[number];

/**
 * How firmly a rule holds: `documented` rules are stated by `docs/misc/xenstore.txt` (or
 * `xs_wire.h`) and bind every server; `c-4.17` rules are what the C xenstored of Xen 4.17 does
 * where the document is silent or loose, the behaviour other implementations are compared with.
 */
export type Level = 'documented' | 'c-4.17';

/** What a check needs from the target beyond a privileged socket. */
export type Capability =
  /** Connections as unprivileged guest domains. */
  | 'guests'
  /** Making a guest domain die as the hypervisor reports it (not a RELEASE). */
  | 'domain-death';

/** One conformance check: a rule, where it comes from, and how to test it. */
export interface Check {
  /** `area.name`, stable across releases: expectations files refer to it. */
  readonly id: string;
  /** The area it belongs to, which groups it in reports. */
  readonly area: Area;
  /** The rule under test, as one sentence. */
  readonly rule: string;
  /**
   * Where the rule comes from: `docs/misc/xenstore.txt` (with the section), a C code path in
   * `tools/xenstore/` (file and function), or an XSA number.
   */
  readonly sources: readonly string[];
  /** Whether a documented rule or C 4.17's behaviour is checked. */
  readonly level: Level;
  /** What the target must offer; a check whose needs are not met is skipped, not failed. */
  readonly needs: readonly Capability[];
  /**
   * Set when a server with a known bug may stop serving during this check (the C 4.17 daemon
   * aborts on some malformed payloads): such checks run after all others.
   */
  readonly hazard?: string;
  /** Performs the check; throws a {@link CheckFailure} (or any error) when the rule is broken. */
  run(t: CheckContext): Promise<void>;
}

/** The description of one check, without its `id`, `area` or defaults. */
export interface CheckSpec {
  /** See {@link Check.rule}. */
  readonly rule: string;
  /** See {@link Check.sources}. */
  readonly sources: readonly string[];
  /** See {@link Check.level}. */
  readonly level: Level;
  /** See {@link Check.needs} (default: none). */
  readonly needs?: readonly Capability[];
  /** See {@link Check.hazard}. */
  readonly hazard?: string;
  /** See {@link Check.run}. */
  run(t: CheckContext): Promise<void>;
}

/**
 * Builds an area's checks from a table of specs keyed by name: `checks('paths', { 'dot-einval':
 * {...} })` gives the check `paths.dot-einval`.
 */
export function checks(area: Area, specs: Readonly<Record<string, CheckSpec>>): Check[] {
  return Object.entries(specs).map(([name, spec]) => ({
    id: `${area}.${name}`,
    area,
    rule: spec.rule,
    sources: spec.sources,
    level: spec.level,
    needs: spec.needs ?? [],
    ...(spec.hazard === undefined ? {} : { hazard: spec.hazard }),
    run: spec.run,
  }));
}

/** A broken rule: what was expected and what the server did. */
export class CheckFailure extends Error {
  /** Always `'CheckFailure'`: a broken rule, as opposed to an error in the check or its socket. */
  override readonly name = 'CheckFailure';
  /** Errno-style code shared by every failed expectation. */
  readonly code = 'ECHECK';
}
