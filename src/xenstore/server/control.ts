import { XenstoreError } from '../errors.ts';
import { OK_PAYLOAD } from '../payload.ts';
import { stringPayload } from '../replies.ts';
import type { Quotas, QuotaTable } from './quota.ts';

/** What CONTROL reports about a domain. */
export interface DomainUsage {
  readonly nodes: number;
  readonly watches: number;
  readonly transactions: number;
}

/** What the CONTROL commands need from the server. */
export interface ControlHost {
  readonly quotas: QuotaTable;
  /** Usage of `domid`, or undefined when no such domain is known. */
  usage(domid: number): DomainUsage | undefined;
}

// C 4.17's memory and path quotas, reported but not enforced here (see README.md).
const MEMORY_QUOTA = 2_621_440;
const MEMORY_SOFT_QUOTA = 2_097_152;
const PATH_MAX = 2048;

// The settable quotas of `quota set`, with C's names and descriptions, in C's order.
const quotaLines: readonly [string, keyof Quotas | undefined, number, string][] = [
  ['nodes', 'nodes', 0, 'Nodes per domain'],
  ['watches', 'watches', 0, 'Watches per domain'],
  ['transactions', 'transactions', 0, 'Transactions per domain'],
  ['outstanding', 'outstanding', 0, 'Outstanding requests per domain'],
  ['transaction-nodes', 'transactionNodes', 0, 'Max. number of accessed nodes per transaction'],
  ['memory', undefined, MEMORY_QUOTA, 'Total Xenstore memory per domain (error level)'],
  ['node-size', 'nodeSize', 0, 'Max. size of a node'],
  ['path-max', undefined, PATH_MAX, 'Max. length of a node path'],
  ['permissions', 'permissions', 0, 'Max. number of permissions per node'],
];

const HELP =
  'check\t\nlog\ton|off\nprint\t<string>\nquota\t[set <name> <val>|<domid>]\n' +
  'quota-soft\t[set <name> <val>]\nhelp\t\n';

/**
 * The CONTROL (formerly DEBUG) commands of C xenstored 4.17 that make sense without a hypervisor,
 * answering in its formats: `check`, `log`, `print`, `quota`, `quota-soft`, `help`. Live update,
 * log files and memory reports are EINVAL, as unknown commands are.
 */
export function control(host: ControlHost, args: readonly (string | Uint8Array)[]): Uint8Array {
  const [command, ...rest] = args.map((arg) => (typeof arg === 'string' ? arg : ''));
  switch (command) {
    case 'check':
      return OK_PAYLOAD;
    case 'log':
      if (rest[0] !== 'on' && rest[0] !== 'off') break;
      return OK_PAYLOAD;
    case 'print':
      if (rest.length !== 1) break;
      return OK_PAYLOAD;
    case 'help':
      if (rest.length !== 0) break;
      return stringPayload(HELP);
    case 'quota':
      return quota(host, rest);
    case 'quota-soft':
      if (rest.length !== 0) break;
      return stringPayload(
        `Quota settings:\n${quotaLine('memory', MEMORY_SOFT_QUOTA, 'Total Xenstore memory per domain (warning level)')}`,
      );
  }
  throw new XenstoreError('EINVAL', `control command not understood: ${args.join(' ')}`);
}

function quota(host: ControlHost, args: readonly string[]): Uint8Array {
  if (args.length === 0) {
    const lines = quotaLines.map(([name, key, fixed, description]) =>
      quotaLine(name, key ? host.quotas.global[key] : fixed, description),
    );
    return stringPayload(`Quota settings:\n${lines.join('')}`);
  }
  if (args[0] === 'set' && args.length === 3) {
    const key = quotaLines.find(([name]) => name === args[1])?.[1];
    const value = /^\d+$/.test(args[2]!) ? Number(args[2]) : Number.NaN;
    if (!key || !Number.isSafeInteger(value)) {
      throw new XenstoreError('EINVAL', 'quota set <name> <value>');
    }
    host.quotas.global[key] = value;
    return OK_PAYLOAD;
  }
  if (args.length === 1 && /^\d+$/.test(args[0]!)) {
    const domid = Number(args[0]);
    const usage = host.usage(domid);
    if (!usage) throw new XenstoreError('ENOENT', `no domain ${domid}`);
    const row = (name: string, value: number) =>
      `${name.padEnd(16)}: ${String(value).padStart(8)}\n`;
    return stringPayload(
      `Domain ${domid}:\n${row('nodes', usage.nodes)}${row('watches', usage.watches)}` +
        `${row('transactions', usage.transactions)}${row('outstanding', 0)}${row('memory', 0)}`,
    );
  }
  throw new XenstoreError('EINVAL', 'quota [set <name> <value>|<domid>]');
}

function quotaLine(name: string, value: number, description: string): string {
  return `${name.padEnd(17)}: ${String(value).padStart(8)} ${description}\n`;
}
