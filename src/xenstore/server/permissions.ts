import type { NodePermission, NodePermissions } from './node.ts';

/** Access bits as C xenstored computes them (`XS_PERM_*`). */
export const Perm = {
  NONE: 0,
  READ: 1,
  WRITE: 2,
  OWNER: 4,
  ALL: 7,
} as const;

/** Who is asking: a connection's domain, its privilege and the domain it acts for (SET_TARGET). */
export interface Identity {
  readonly domid: number;
  readonly privileged: boolean;
  /** The domain this domain controls, when SET_TARGET made it a device model. */
  readonly target: number | undefined;
  /**
   * Whether an entry for `domid` counts on a node last changed at `generation`: C ignores entries
   * for domains that do not exist, or that appeared after the node was written (so that a new
   * domain reusing a domid does not inherit an old one's access).
   */
  honours(domid: number, generation: number): boolean;
}

const letterBits = { r: Perm.READ, w: Perm.WRITE, b: Perm.READ | Perm.WRITE, n: Perm.NONE };

/**
 * C's `perm_for_conn`: privileged connections and the owner (or its controller) get everything;
 * otherwise the first entry for the domain that counts (not marked ignored, and see
 * {@link Identity.honours}) decides,
 * else the owner entry's letter. `generation` is that of the node the list belongs to; lists
 * without a node (special paths, remembered ones) only need their domains to exist.
 */
export function permFor(
  who: Identity,
  perms: NodePermissions,
  generation = Number.POSITIVE_INFINITY,
): number {
  const owner = perms[0]!;
  if (who.privileged || owner.domid === who.domid || owner.domid === who.target) return Perm.ALL;
  for (let i = 1; i < perms.length; i++) {
    const entry = perms[i]!;
    if (
      (entry.domid === who.domid || entry.domid === who.target) &&
      !entry.ignored &&
      who.honours(entry.domid, generation)
    ) {
      return letterBits[entry.access];
    }
  }
  return letterBits[owner.access];
}

/** True when `perms` (of a node at `generation`) grant `who` every bit of `wanted`. */
export function allows(
  who: Identity,
  perms: NodePermissions,
  wanted: number,
  generation?: number,
): boolean {
  return (permFor(who, perms, generation) & wanted) === wanted;
}

/**
 * C's `domain_adjust_node_perms`, which runs whenever a node is read: `perms` (of a node last
 * changed at `generation`) with every entry that no longer counts marked ignored. A node written
 * back keeps the marks, so an entry that lapsed with its domain stays void when the node gets a
 * newer generation than a domain introduced later under the same domid (XSA-322). The same list
 * when nothing lapsed.
 */
export function settledPermissions(
  who: Pick<Identity, 'honours'>,
  perms: NodePermissions,
  generation: number,
): NodePermissions {
  let settled: NodePermission[] | undefined;
  for (let i = 1; i < perms.length; i++) {
    const entry = perms[i]!;
    if (entry.ignored || who.honours(entry.domid, generation)) continue;
    settled ??= perms.slice();
    settled[i] = { ...entry, ignored: true };
  }
  return settled ?? perms;
}

/**
 * Permissions of a node created under a parent with `parent` permissions: a copy of them, with an
 * unprivileged creator made the owner (letter kept). Shared by reference when unchanged.
 */
export function inheritPermissions(parent: NodePermissions, creator: Identity): NodePermissions {
  const owner = parent[0]!;
  if (creator.privileged || owner.domid === creator.domid) return parent;
  return [{ access: owner.access, domid: creator.domid }, ...parent.slice(1)];
}
