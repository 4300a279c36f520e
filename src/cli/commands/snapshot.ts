import { writeFileSync } from 'node:fs';
import type { XenstoreClient } from '../../xenstore/client.ts';
import {
  DOMID_INVALID,
  encodeMigrationStream,
  type MigrationRecord,
} from '../../xenstore/server/migration-stream.ts';
import type { Command } from '../command.ts';
import { type CliIo, Diagnostics, USAGE_ERROR, wantsJson } from '../io.ts';
import { strerror } from '../strerror.ts';
import { connectErrorCode, errorCode, openTarget, type Target } from '../target.ts';
import { parseToolArgs } from '../tool-args.ts';

const options = {
  to: { type: 'string' },
  mock: { type: 'boolean' },
  help: { type: 'boolean', short: 'h' },
} as const;

const usage = `Usage: xenwire snapshot --to FILE [--mock]

Captures the running daemon's store through the protocol, in one transaction: every node with
its value and permissions, and the introduced domains among those the store names (under
/local/domain or in permissions). The client does not send GET_PERMS for @introduceDomain and
@releaseDomain, so theirs stay the default (n0) when loaded. Writes it as a xenstore migration stream
(Xen's format, as C xenstored 4.17 writes for live update), which \`xenwire serve --load FILE\`
starts from. Watches, connections and event channels are not visible through the protocol.
`;

/**
 * The store as seen through `client` as migration-stream records: nodes depth first (parents
 * before children), read inside one transaction so that the picture is consistent.
 */
async function capture(client: XenstoreClient): Promise<MigrationRecord[]> {
  const nodes: MigrationRecord[] = [];
  const named = new Set<number>();
  const tx = await client.transactionStart();
  try {
    const walk = async (path: string): Promise<void> => {
      // The transaction sees one state: nothing listed can be gone when read.
      const [value, perms, children] = await Promise.all([
        tx.read(path),
        tx.getPermissions(path),
        tx.directory(path),
      ]);
      for (const { domid } of perms) named.add(domid);
      nodes.push(node(path, value, perms));
      for (const child of children) await walk(path === '/' ? `/${child}` : `${path}/${child}`);
    };
    await walk('/');
  } finally {
    await tx.abort().catch(() => undefined);
  }
  // No request lists the introduced domains: ask about every domid the store names.
  for (const name of await client.directory('/local/domain').catch((): string[] => [])) {
    if (/^\d+$/.test(name)) named.add(Number(name));
  }
  const rings: MigrationRecord[] = [];
  const empty = new Uint8Array(0);
  for (const domid of [...named].sort((a, b) => a - b)) {
    if (domid <= 0 || domid >= DOMID_INVALID) continue;
    if (!(await client.isDomainIntroduced(domid).catch(() => false))) continue;
    // The event channel is not visible through the protocol.
    rings.push({
      type: 'connection',
      connId: rings.length + 1,
      kind: 'ring',
      domid,
      targetDomid: DOMID_INVALID,
      port: 0,
      input: empty,
      partialResponse: 0,
      output: empty,
    });
  }
  return [{ type: 'global', socketFd: -1, evtchnFd: -1 }, ...rings, ...nodes];
}

function node(
  path: string,
  value: Uint8Array,
  perms: readonly { access: 'r' | 'w' | 'b' | 'n'; domid: number }[],
): MigrationRecord {
  return {
    type: 'node',
    connId: 0,
    txId: 0,
    access: 0,
    path,
    value,
    perms: perms.map(({ access, domid }) => ({ access, domid, ignored: false })),
  };
}

/** `xenwire snapshot --to FILE`: a running daemon's store as a migration stream. */
async function runSnapshot(args: readonly string[], io: CliIo): Promise<number> {
  const diag = new Diagnostics(io, 'xenwire snapshot', wantsJson(args));
  const { values } = parseToolArgs(args, options, usage, io, diag);
  if (!values.to) return diag.errx('--to FILE is required', USAGE_ERROR, 2);
  let target: Target;
  try {
    target = await openTarget({ mock: values.mock, env: io.env });
  } catch (error) {
    const code = connectErrorCode(error);
    return diag.errx(`could not connect: ${strerror(code)}`, { code });
  }
  try {
    const records = await capture(target.client);
    writeFileSync(values.to, encodeMigrationStream({ bigEndian: false, records }));
    const nodes = records.filter((r) => r.type === 'node' && r.path.startsWith('/')).length;
    io.stdout.write(`${nodes} nodes written to ${values.to}\n`);
    return 0;
  } catch (error) {
    const code = errorCode(error);
    return diag.errx(`snapshot failed: ${strerror(code)}`, { code });
  } finally {
    await target.close();
  }
}

export const command: Command = { run: runSnapshot };
