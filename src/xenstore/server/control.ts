import { XenstoreError } from '../errors.ts';
import { atoi, atou } from '../numbers.ts';
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

type QuotaLines = readonly (readonly [string, keyof Quotas, string])[];

// The settable quotas of `quota set`, with C's names and descriptions, in C's order.
const quotaLines: QuotaLines = [
  ['nodes', 'nodes', 'Nodes per domain'],
  ['watches', 'watches', 'Watches per domain'],
  ['transactions', 'transactions', 'Transactions per domain'],
  ['outstanding', 'outstanding', 'Outstanding requests per domain'],
  ['transaction-nodes', 'transactionNodes', 'Max. number of accessed nodes per transaction'],
  ['memory', 'memory', 'Total Xenstore memory per domain (error level)'],
  ['node-size', 'nodeSize', 'Max. size of a node'],
  ['path-max', 'pathMax', 'Max. length of a node path'],
  ['permissions', 'permissions', 'Max. number of permissions per node'],
];

const softQuotaLines: QuotaLines = [
  ['memory', 'softMemory', 'Total Xenstore memory per domain (warning level)'],
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
      if (rest.length !== 0) break;
      return OK_PAYLOAD;
    case 'log':
      if (rest.length !== 1 || (rest[0] !== 'on' && rest[0] !== 'off')) break;
      return OK_PAYLOAD;
    case 'print':
      if (rest.length !== 1) break;
      return OK_PAYLOAD;
    case 'help':
      if (rest.length !== 0) break;
      return stringPayload(HELP);
    case 'quota':
      if (rest.length === 1 && rest[0] !== 'set') return domainQuota(host, atou(rest[0]!));
      return quotaSettings(host, quotaLines, rest);
    case 'quota-soft':
      return quotaSettings(host, softQuotaLines, rest);
  }
  throw new XenstoreError('EINVAL', `control command not understood: ${args.join(' ')}`);
}

// `quota` or `quota-soft`: without arguments the settings; `set <name> <value>` changes one, the
// value read with atoi and at least 1.
function quotaSettings(host: ControlHost, lines: QuotaLines, args: readonly string[]): Uint8Array {
  if (args.length === 0) {
    const shown = lines.map(([name, key, description]) =>
      quotaLine(name, host.quotas.global[key], description),
    );
    return stringPayload(`Quota settings:\n${shown.join('')}`);
  }
  const key =
    args.length === 3 && args[0] === 'set' ? lines.find(([name]) => name === args[1]) : undefined;
  const value = key ? atoi(args[2]!) : 0;
  if (!key || value < 1) throw new XenstoreError('EINVAL', 'quota set <name> <value>');
  host.quotas.global[key[1]] = value;
  return OK_PAYLOAD;
}

function domainQuota(host: ControlHost, domid: number): Uint8Array {
  const usage = host.usage(domid);
  if (!usage) throw new XenstoreError('ENOENT', `no domain ${domid}`);
  const row = (name: string, value: number) => `${name.padEnd(16)}: ${String(value).padStart(8)}\n`;
  return stringPayload(
    `Domain ${domid}:\n${row('nodes', usage.nodes)}${row('watches', usage.watches)}` +
      `${row('transactions', usage.transactions)}${row('outstanding', 0)}${row('memory', 0)}`,
  );
}

function quotaLine(name: string, value: number, description: string): string {
  return `${name.padEnd(17)}: ${String(value).padStart(8)} ${description}\n`;
}
