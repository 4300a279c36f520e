import { appendFileSync, statSync } from 'node:fs';
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
  /** Replies and events queued for the domain's connections, not yet delivered. */
  readonly outstanding: number;
  /** C's accounting: each owned node's record plus its path, each watch's path and token. */
  readonly memory: number;
}

/** What the CONTROL commands need from the server. */
export interface ControlHost {
  readonly quotas: QuotaTable;
  /** Usage of `domid`, or undefined when no such domain is known. */
  usage(domid: number): DomainUsage | undefined;
  /** `memreport`'s text: what the store holds, by kind. */
  memoryReport(): string;
  /** `logfile`: messages are traced to `path` from now on (JSON lines). */
  setLogFile(path: string): void;
  readonly logFile: string | undefined;
  /**
   * Open transactions as `[domid, seconds open]` per connection holding any (the oldest one's
   * age), in connection order.
   */
  openTransactions(): [number, number][];
  /** `live-update -s`: writes the state as a migration stream and restores it in place. */
  liveUpdate(): void;
}

/** A live-update session, as C keeps one: the connection that began it, binary and command line. */
interface LiveUpdateSession {
  readonly conn: number;
  readonly binary: string;
  cmdline?: string;
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
  'check\t\nlog\ton|off\nlive-update\t[-c <cmdline>] [-F] [-t <timeout>] <file>\n' +
  '    Default timeout is 60 seconds.\nlogfile\t<file>\nmemreport\t[<file>]\n' +
  'print\t<string>\nquota\t[set <name> <val>|<domid>]\nquota-soft\t[set <name> <val>]\nhelp\t\n';

const sessions = new WeakMap<ControlHost, LiveUpdateSession>();

/**
 * The CONTROL (formerly DEBUG) commands of C xenstored 4.17, answering in its formats: `check`,
 * `log`, `live-update`, `logfile`, `memreport`, `print`, `quota`, `quota-soft`, `help`. `conn`
 * is the asking connection's number (a live-update session belongs to one connection).
 */
export function control(
  host: ControlHost,
  conn: number,
  args: readonly (string | Uint8Array)[],
): Uint8Array {
  const [command, ...rest] = args.map((arg) => (typeof arg === 'string' ? arg : ''));
  switch (command) {
    case 'live-update':
      if (rest.length === 0) break;
      return stringPayload(liveUpdate(host, conn, rest.slice(0, 4)));
    case 'logfile':
      if (rest.length !== 1) break;
      host.setLogFile(rest[0]!);
      return OK_PAYLOAD;
    case 'memreport': {
      // C answers EBADF (sent as EINVAL) when there is no log file and no file named.
      const file = rest.length === 1 ? rest[0] : rest.length === 0 ? host.logFile : undefined;
      if (file === undefined) break;
      try {
        appendFileSync(file, host.memoryReport());
      } catch {
        break;
      }
      return OK_PAYLOAD;
    }
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
      `${row('transactions', usage.transactions)}${row('outstanding', usage.outstanding)}` +
      `${row('memory', usage.memory)}`,
  );
}

// C's do_control_lu: every outcome but bad arguments is a string reply, "OK" for success.
function liveUpdate(host: ControlHost, conn: number, args: readonly string[]): string {
  const session = sessions.get(host);
  const [flag, ...more] = args;
  switch (flag) {
    case '-a':
      if (more.length !== 0) break;
      if (!session) return 'No live-update session active.';
      sessions.delete(host);
      return 'OK';
    case '-c':
      if (more.length !== 1) break;
      if (!session || session.conn !== conn) return 'Not in live-update session.';
      session.cmdline = more[0];
      return 'OK';
    case '-f': {
      if (more.length !== 1) break;
      const binary = more[0]!;
      let mode: number;
      try {
        mode = statSync(binary).mode;
      } catch {
        return 'File not accessible.';
      }
      if ((mode & 0o111) === 0) return 'File not executable.';
      if (session) return 'live-update session already active.';
      sessions.set(host, { conn, binary });
      return 'OK';
    }
    case '-s': {
      let force = false;
      let timeout = 0;
      for (let i = 0; i < more.length; i++) {
        if (more[i] === '-F') force = true;
        else if (more[i] === '-t' && i < more.length - 1)
          timeout = Number.parseInt(more[++i]!, 10) || 0;
        else throw new XenstoreError('EINVAL', 'live-update -s [-F] [-t <timeout>]');
      }
      if (!session || session.conn !== conn) return 'Not in live-update session.';
      sessions.delete(host);
      // C waits up to the timeout for transactions to end; requests here are never delayed, so
      // the answer is the one C gives once the timeout has passed.
      const open = host.openTransactions();
      const long = open.filter(([, seconds]) => seconds >= timeout);
      if (open.length > 0 && !(force && long.length === open.length)) {
        if (long.length === 0) return 'Overlapping transactions';
        return `Domains with long running transactions:${long
          .map(([domid, seconds]) => `\nDomain ${domid}: ${seconds} s`)
          .join('')}`;
      }
      host.liveUpdate();
      return 'OK';
    }
  }
  throw new XenstoreError('EINVAL', 'live-update [-c <cmdline>] [-F] [-t <timeout>] <file>');
}

function quotaLine(name: string, value: number, description: string): string {
  return `${name.padEnd(17)}: ${String(value).padStart(8)} ${description}\n`;
}
