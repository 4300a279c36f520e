import { XenstoreError } from '../errors.ts';

/**
 * Limits C xenstored applies to unprivileged domains (`xenstored -h`, 4.17 defaults). Privileged
 * connections are never limited.
 * @category Server
 */
export interface Quotas {
  /** Nodes a domain may own (ENOSPC). */
  nodes: number;
  /** Watches a domain may hold (E2BIG). */
  watches: number;
  /** Open transactions of a domain beyond which TRANSACTION_START fails (ENOSPC). */
  transactions: number;
  /** Largest node record in bytes, header, permissions and child names included (ENOSPC). */
  nodeSize: number;
  /** Permission entries per node (ENOSPC). */
  permissions: number;
  /** Requests a domain may have in flight. Requests are answered synchronously, so never reached. */
  outstanding: number;
  /** Nodes one transaction may touch (ENOSPC). */
  transactionNodes: number;
  /**
   * Memory a domain may use, in bytes. Only output the domain has not read counts: a watch
   * event that would take it over is dropped (see `ConnectOptions.backlog`).
   */
  memory: number;
  /** Memory use above which C only logs a warning. Reported, not enforced. */
  softMemory: number;
  /** Longest path. Reported; the path check is the codec's fixed 2048 characters. */
  pathMax: number;
}

/**
 * C xenstored 4.17's defaults.
 * @category Server
 */
export const DEFAULT_QUOTAS: Readonly<Quotas> = Object.freeze({
  nodes: 1000,
  watches: 128,
  transactions: 10,
  nodeSize: 2048,
  permissions: 5,
  outstanding: 20,
  transactionNodes: 1024,
  memory: 2_621_440,
  softMemory: 2_097_152,
  pathMax: 2048,
});

/** Quota names on the wire (GET_QUOTA/SET_QUOTA), in current xenstored's order. */
const wireNames: Readonly<Record<string, keyof Quotas>> = {
  nodes: 'nodes',
  watches: 'watches',
  outstanding: 'outstanding',
  memory: 'memory',
  'soft-memory': 'softMemory',
  transactions: 'transactions',
  'transaction-nodes': 'transactionNodes',
  'node-permissions': 'permissions',
  'path-max': 'pathMax',
  'node-size': 'nodeSize',
};

/**
 * The wire names of all quotas, in the order GET_QUOTA lists them.
 * @category Server
 */
export const QUOTA_NAMES: readonly string[] = Object.keys(wireNames);

/** The {@link Quotas} key of a wire name; EINVAL for names no quota has. */
export function quotaKey(name: string): keyof Quotas {
  const key = wireNames[name];
  if (!key) throw new XenstoreError('EINVAL', `no quota named ${JSON.stringify(name)}`);
  return key;
}

/**
 * Global quotas plus per-domain overrides (SET_QUOTA with a domid). Lookups fall back to the
 * global value.
 */
export class QuotaTable {
  readonly global: Quotas;
  readonly #perDomain = new Map<number, Partial<Quotas>>();

  constructor(overrides: Partial<Quotas> = {}) {
    this.global = { ...DEFAULT_QUOTAS, ...overrides };
  }

  /** The limit `key` for `domid`. */
  limit(domid: number, key: keyof Quotas): number {
    return this.#perDomain.get(domid)?.[key] ?? this.global[key];
  }

  /** Sets a domain's own limit. */
  setForDomain(domid: number, key: keyof Quotas, value: number): void {
    const entry = this.#perDomain.get(domid) ?? {};
    entry[key] = value;
    this.#perDomain.set(domid, entry);
  }

  /** Forgets a released domain's overrides. */
  forget(domid: number): void {
    this.#perDomain.delete(domid);
  }
}
