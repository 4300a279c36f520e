import { XenstoreClient } from '../../../src/xenstore/client.ts';
import { MessageType } from '../../../src/xenstore/messages.ts';
import { encodeRequest, type Request } from '../../../src/xenstore/requests.ts';
import { ringConnector } from '../../../src/xenstore/transport/ring.ts';
import { encodeMessage } from '../../../src/xenstore/wire.ts';
import type { RingTarget } from './ring-targets.ts';

/** What a call gave: its value, or its error code. */
async function outcome(label: string, call: Promise<unknown>): Promise<string> {
  try {
    return `${label} → ${JSON.stringify(await call)}`;
  } catch (error) {
    return `${label} ✗ ${(error as { code?: string }).code ?? String(error)}`;
  }
}

/**
 * A guest's session through the client API over its ring, plus dom0 acting on the guest's nodes:
 * reads, writes, directories, watches (its own changes and dom0's), transactions, and where the
 * guest's identity bites (permissions, node size, watch and transaction quotas). Returns every
 * outcome and every watch firing, as text to compare across servers.
 */
export async function clientScript(target: RingTarget): Promise<string[]> {
  const { admin, domid } = target;
  const home = `/local/domain/${domid}`;
  const xs = await XenstoreClient.connect({
    transport: ringConnector({
      page: target.page,
      eventChannel: target.eventChannel,
      port: target.port,
    }),
  });
  const log: string[] = [];
  const fired: string[] = [];
  try {
    const watch = await xs.watch(`${home}/w`);
    watch.on('event', (event) => fired.push(event.path));
    log.push(await outcome('write', xs.write('w/a', 'A')));
    log.push(await outcome('write long', xs.write('w/long', 'L'.repeat(1800))));
    log.push(
      await outcome(
        'read long',
        xs.readString('w/long').then((v) => v.length),
      ),
    );
    log.push(await outcome('directory', xs.directory('w')));
    log.push(await outcome('perms', xs.getPermissions('w/a')));
    log.push(await outcome('dom0 writes', admin.write(`${home}/w/b`, 'from dom0')));
    log.push(await outcome('read dom0 value', xs.readString('w/b')));
    log.push(await outcome('read /tool', xs.read('/tool')));
    log.push(await outcome('read missing', xs.read('nope')));
    log.push(await outcome('write /d', xs.write('/d', 'x')));
    log.push(await outcome('introduce', xs.introduceDomain(9, 1, 1)));
    log.push(await outcome('too big', xs.write('big', 'x'.repeat(2100))));
    log.push(
      await outcome(
        'transaction',
        xs.transaction(async (tx) => {
          await tx.write(`${home}/t/x`, '1');
          await tx.write(`${home}/t/y`, '2');
          return tx.directory(`${home}/t`);
        }),
      ),
    );
    log.push(await outcome('after commit', xs.directory('t')));
    const txs = await Promise.allSettled(Array.from({ length: 12 }, () => xs.transactionStart()));
    log.push(
      `transactions: ${txs.map((t) => (t.status === 'fulfilled' ? 'ok' : (t.reason as { code: string }).code)).join(' ')}`,
    );
    await Promise.all(
      txs.flatMap((t) => (t.status === 'fulfilled' ? [xs.transactionEnd(t.value, false)] : [])),
    );
    const watches = await Promise.allSettled(
      Array.from({ length: 130 }, (_, i) => xs.watch(`q${i}`)),
    );
    const refused = watches.filter((w) => w.status === 'rejected');
    log.push(
      `watches: ${watches.length - refused.length} ok, ${refused.map((w) => (w as PromiseRejectedResult).reason.code).join(' ')}`,
    );
    await xs.resetWatches();
    // Fifty directories keep each child list short: the node count is what runs out.
    const nodes = await Promise.allSettled(
      Array.from({ length: 1000 }, (_, i) => xs.write(`n/${i % 50}/${i}`, '')),
    );
    const full = nodes.filter((n) => n.status === 'rejected') as PromiseRejectedResult[];
    log.push(
      `nodes: ${nodes.length - full.length} ok, ${[...new Set(full.map((n) => n.reason.code))].join(' ')} ×${full.length}`,
    );
    log.push(await outcome('rm nodes', xs.rm('n')));
    log.push(await outcome('rm', xs.rm('w/a')));
    // Answered after every event queued for this ring.
    log.push(await outcome('barrier', xs.getDomainPath(domid)));
    log.push(`fired: ${fired.join(' ')}`);
  } finally {
    await xs.close();
  }
  return log;
}

/**
 * Dom0's view of the guest's destruction: `@releaseDomain` fires, the domain is no longer
 * introduced, and the nodes it owned are gone.
 */
export async function destructionScript(target: RingTarget): Promise<string[]> {
  const { admin, domid } = target;
  const watch = await admin.watch('@releaseDomain');
  const events = watch[Symbol.asyncIterator]();
  const log = [`registered: ${(await events.next()).value?.path}`];
  await target.destroy();
  log.push(`fired: ${(await events.next()).value?.path}`);
  log.push(await outcome('introduced', admin.isDomainIntroduced(domid)));
  log.push(await outcome('home', admin.read(`/local/domain/${domid}/w`)));
  await watch.close();
  return log;
}

/**
 * Requests a guest sends by hand, built from the step before's replies (the transaction id). The
 * second WRITE and READ are longer than a ring, so their bytes cross it in pieces.
 */
export function rawScript(domid: number): ((txId: number) => { request: Request; txId: number })[] {
  const home = `/local/domain/${domid}`;
  const none = (request: Request) => () => ({ request, txId: 0 });
  const inTx = (request: Request) => (txId: number) => ({ request, txId });
  return [
    none({ op: 'WRITE', path: `${home}/a`, value: Buffer.from('x') }),
    none({ op: 'READ', path: `${home}/a` }),
    none({ op: 'WATCH', path: `${home}/a`, token: 'tok' }),
    none({ op: 'WRITE', path: `${home}/a/b`, value: Buffer.from('b'.repeat(1500)) }),
    none({ op: 'READ', path: `${home}/a/b` }),
    none({ op: 'DIRECTORY', path: home }),
    none({ op: 'GET_PERMS', path: 'a' }),
    none({ op: 'READ', path: '/local/domain/0' }),
    none({ op: 'TRANSACTION_START' }),
    inTx({ op: 'WRITE', path: 'a/c', value: Buffer.from('in tx') }),
    inTx({ op: 'TRANSACTION_END', commit: true }),
    none({ op: 'SET_PERMS', path: 'a/c', perms: [{ access: 'r', domid }] }),
    none({ op: 'MKDIR', path: 'm' }),
    none({ op: 'RM', path: 'a/b' }),
    none({ op: 'INTRODUCE', domid: 9, gfn: 1n, port: 1 }),
    none({ op: 'WRITE', path: 'big', value: Buffer.from('x'.repeat(2100)) }),
    none({ op: 'UNWATCH', path: `${home}/a`, token: 'tok' }),
    none({ op: 'GET_DOMAIN_PATH', domid }),
  ];
}

/** The wire bytes of step `index` of {@link rawScript} (request ids count from 1). */
export function rawRequest(request: Request, index: number, txId: number): Uint8Array {
  return encodeMessage(encodeRequest(request, { reqId: index + 1, txId }));
}

/** The transaction id a TRANSACTION_START reply carries, else the one given. */
export function nextTxId(reply: { type: number; payload: Uint8Array } | undefined, txId: number) {
  if (reply?.type !== MessageType.TRANSACTION_START) return txId;
  return Number.parseInt(Buffer.from(reply.payload).toString('latin1'), 10);
}
