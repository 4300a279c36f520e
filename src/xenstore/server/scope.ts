import type { DomainTable } from './domains.ts';
import type { EventDispatcher } from './events.ts';
import type { Node } from './node.ts';
import type { Identity } from './permissions.ts';
import type { Quotas, QuotaTable } from './quota.ts';
import type { NodeAccess } from './store.ts';
import type { PendingEvent, Transaction } from './transactions.ts';
import type { Scope } from './tree-ops.ts';

/** The server-wide state a request scope consults. */
export interface ScopeContext {
  readonly quotas: QuotaTable;
  readonly domains: DomainTable;
  readonly events: EventDispatcher;
}

/**
 * A {@link Scope} for one connection outside transactions, or for one transaction. Built once and
 * reused for every request, so that serving a request allocates no closures.
 */
export class RequestScope implements Scope {
  constructor(
    readonly who: Identity,
    readonly access: NodeAccess,
    readonly context: ScopeContext,
    /** The transaction holding this scope's events back, if any. */
    readonly transaction: Transaction | undefined,
    /** No quotas at all (the server's own work, e.g. removing a released domain's nodes). */
    readonly unlimited = false,
  ) {}

  limit(key: keyof Quotas): number {
    return this.unlimited
      ? Number.POSITIVE_INFINITY
      : this.context.quotas.limit(this.who.domid, key);
  }

  domainExists(domid: number): boolean {
    return this.context.domains.isIntroduced(domid);
  }

  writeFailed(): void {
    if (this.transaction) this.transaction.failed = true;
  }

  creating(): void {
    if (this.transaction) this.transaction.created = true;
  }

  fire(event: PendingEvent, node?: Node): void {
    if (this.transaction) this.transaction.queueEvent(event);
    else this.context.events.fire(event, node);
  }
}
