/**
 * Regenerates tests/fixtures/xenstored-4.17-*.json: real request and reply bytes of Xen 4.17's C
 * xenstored, for byte-exact codec tests. Run: npx tsx harness/capture-fixtures.ts
 *
 * A raw driver sends every message type (successes, errors, watch events, transactions, a fake
 * guest's INTRODUCE/RELEASE, unsupported types) and records what it sent and received; then
 * libxenstore's own tools run through a recording proxy, so the fixtures also hold the bytes a C
 * client produces.
 */
import { execFile } from 'node:child_process';
import { readdirSync } from 'node:fs';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { MessageType } from '../src/xenstore/messages.ts';
import { decodeReply } from '../src/xenstore/replies.ts';
import { encodeRequest, type Request } from '../src/xenstore/requests.ts';
import { encodeMessage, type Message } from '../src/xenstore/wire.ts';
import { RawConnection } from '../tests/support/raw-connection.ts';
import {
  clientEnv,
  type RealXenstored,
  startRealXenstored,
  type XenInstall,
  xenInstall,
} from '../tests/support/real-xenstored.ts';
import { type RecordedMessage, RecordingProxy } from '../tests/support/recording-proxy.ts';

const execFileAsync = promisify(execFile);
const fixturesDir = fileURLToPath(new URL('../tests/fixtures/', import.meta.url));

/** One request and what its connection received up to and including the reply. */
interface RecordedExchange {
  name: string;
  connection: string;
  /** Absent when the step only waits for watch events. */
  request?: string;
  received: string[];
}

/**
 * A request (typed or raw bytes) on connection `on`, or a wait for watch events there. `eventsAfter`
 * counts watch events that follow the reply (a WATCH's registration event comes after its OK).
 */
type Step =
  | { name: string; on: string; request: Request; txId?: number; eventsAfter?: number }
  | { name: string; on: string; raw: { type: number; txId?: number; payload: string } }
  | { name: string; on: string; events: number; destroyGuest?: number };

/** Values only known once earlier steps have run. */
interface StepContext {
  /** The id the daemon gave the n-th transaction started (1-based), 0 before that. */
  tx(n: number): number;
  /** Bytes of the child list the last DIRECTORY_PART reply covered. */
  partLength(): number;
}

const GUEST = { domid: 5, port: 17 };
/** A second guest, made the first one's controller by SET_TARGET. */
const CONTROLLER = { domid: 6, port: 18 };

/** Transaction ids are allocated by the daemon; steps name them through this table. */
function steps({ tx, partLength }: StepContext): Step[] {
  const path = (p: string): Request => ({ op: 'READ', path: p });
  return [
    { name: 'READ of a missing node: ENOENT', on: 'a', request: path('/fx/missing') },
    {
      name: 'WRITE creates the node',
      on: 'a',
      request: { op: 'WRITE', path: '/fx/a', value: Buffer.from('value') },
    },
    { name: 'READ returns the value without a nul', on: 'a', request: path('/fx/a') },
    {
      name: 'WRITE of a value holding nuls',
      on: 'a',
      request: { op: 'WRITE', path: '/fx/bin', value: Buffer.from([1, 0, 2, 0]) },
    },
    { name: 'READ of a value holding nuls', on: 'a', request: path('/fx/bin') },
    {
      name: 'WRITE of an empty value',
      on: 'a',
      request: { op: 'WRITE', path: '/fx/e', value: Buffer.alloc(0) },
    },
    { name: 'READ of an empty value', on: 'a', request: path('/fx/e') },
    { name: 'MKDIR', on: 'a', request: { op: 'MKDIR', path: '/fx/d' } },
    { name: 'DIRECTORY in creation order', on: 'a', request: { op: 'DIRECTORY', path: '/fx' } },
    { name: 'DIRECTORY without children', on: 'a', request: { op: 'DIRECTORY', path: '/fx/d' } },
    { name: 'GET_PERMS', on: 'a', request: { op: 'GET_PERMS', path: '/fx/a' } },
    {
      name: 'SET_PERMS owner b0, domain 5 read',
      on: 'a',
      request: {
        op: 'SET_PERMS',
        path: '/fx/a',
        perms: [
          { domid: 0, access: 'b' },
          { domid: 5, access: 'r' },
        ],
      },
    },
    { name: 'GET_PERMS after SET_PERMS', on: 'a', request: { op: 'GET_PERMS', path: '/fx/a' } },
    {
      name: 'SET_PERMS with bad syntax: EINVAL',
      on: 'a',
      raw: { type: MessageType.SET_PERMS, payload: '/fx/a\0x0\0' },
    },
    { name: 'RM', on: 'a', request: { op: 'RM', path: '/fx/d' } },
    {
      name: 'RM of a node whose parent is missing: ENOENT',
      on: 'a',
      request: { op: 'RM', path: '/fx/no/such' },
    },
    { name: 'RM of the root: EINVAL', on: 'a', request: { op: 'RM', path: '/' } },
    { name: 'READ of an invalid path: EINVAL', on: 'a', request: path('/fx/bad.name') },
    { name: 'READ of a relative path (dom0 home)', on: 'a', request: path('relative') },
    {
      name: 'WRITE without a nul after the path: EINVAL',
      on: 'a',
      raw: { type: MessageType.WRITE, payload: '/fx/nonul' },
    },
    {
      name: 'WATCH: OK, then the registration event',
      on: 'b',
      request: { op: 'WATCH', path: '/fx', token: 'tok' },
      eventsAfter: 1,
    },
    {
      name: 'WATCH with an empty token',
      on: 'b',
      request: { op: 'WATCH', path: '/fx/a', token: '' },
      eventsAfter: 1,
    },
    {
      name: 'WATCH of the same path and token again: EEXIST',
      on: 'b',
      request: { op: 'WATCH', path: '/fx', token: 'tok' },
    },
    {
      name: 'WATCH with a depth: EINVAL in 4.17',
      on: 'b',
      request: { op: 'WATCH', path: '/fx', token: 'deep', depth: 1 },
    },
    {
      name: 'WATCH of a relative path',
      on: 'b',
      request: { op: 'WATCH', path: 'rel', token: 'r' },
      eventsAfter: 1,
    },
    {
      name: 'WRITE watched by another connection',
      on: 'a',
      request: { op: 'WRITE', path: '/fx/a', value: Buffer.from('v2') },
    },
    { name: 'the WATCH_EVENTs of that write', on: 'b', events: 2 },
    {
      name: 'own watch fires before the reply',
      on: 'b',
      request: { op: 'WRITE', path: '/fx/own', value: Buffer.from('x') },
    },
    { name: 'UNWATCH', on: 'b', request: { op: 'UNWATCH', path: '/fx/a', token: '' } },
    {
      name: 'UNWATCH of an unknown watch: ENOENT',
      on: 'b',
      request: { op: 'UNWATCH', path: '/fx/a', token: '' },
    },
    { name: 'TRANSACTION_START', on: 'a', request: { op: 'TRANSACTION_START' } },
    {
      name: 'WRITE in a transaction',
      on: 'a',
      request: { op: 'WRITE', path: '/fx/t', value: Buffer.from('1') },
      txId: tx(1),
    },
    { name: 'READ outside the transaction does not see it', on: 'a', request: path('/fx/t') },
    {
      name: 'TRANSACTION_START nested in an open transaction: EBUSY',
      on: 'a',
      request: { op: 'TRANSACTION_START' },
      txId: tx(1),
    },
    {
      name: 'TRANSACTION_END with a bad payload: EINVAL',
      on: 'a',
      raw: { type: MessageType.TRANSACTION_END, txId: tx(1), payload: 'X\0' },
    },
    {
      name: 'TRANSACTION_END commit',
      on: 'a',
      request: { op: 'TRANSACTION_END', commit: true },
      txId: tx(1),
    },
    { name: 'the commit fires the watch', on: 'b', events: 1 },
    {
      name: 'TRANSACTION_END of a closed transaction: ENOENT',
      on: 'a',
      request: { op: 'TRANSACTION_END', commit: true },
      txId: tx(1),
    },
    {
      name: 'TRANSACTION_END without a transaction: ENOENT',
      on: 'a',
      request: { op: 'TRANSACTION_END', commit: true },
    },
    { name: 'TRANSACTION_START for a conflict', on: 'a', request: { op: 'TRANSACTION_START' } },
    { name: 'READ in the conflicting transaction', on: 'a', request: path('/fx/t'), txId: tx(2) },
    {
      name: 'WRITE outside the transaction',
      on: 'c',
      request: { op: 'WRITE', path: '/fx/t', value: Buffer.from('2') },
    },
    { name: 'the outside write fires the watch', on: 'b', events: 1 },
    {
      name: 'TRANSACTION_END commit after a conflict: EAGAIN',
      on: 'a',
      request: { op: 'TRANSACTION_END', commit: true },
      txId: tx(2),
    },
    { name: 'TRANSACTION_START to abort', on: 'a', request: { op: 'TRANSACTION_START' } },
    {
      name: 'TRANSACTION_END abort',
      on: 'a',
      request: { op: 'TRANSACTION_END', commit: false },
      txId: tx(3),
    },
    {
      name: 'READ with an unknown transaction: ENOENT',
      on: 'a',
      request: path('/fx/t'),
      txId: 999,
    },
    { name: 'GET_DOMAIN_PATH', on: 'a', request: { op: 'GET_DOMAIN_PATH', domid: 7 } },
    {
      name: 'GET_DOMAIN_PATH parses like atoi',
      on: 'a',
      raw: { type: MessageType.GET_DOMAIN_PATH, payload: '007\0' },
    },
    {
      name: 'IS_DOMAIN_INTRODUCED of an unknown domain',
      on: 'a',
      request: { op: 'IS_DOMAIN_INTRODUCED', domid: 7 },
    },
    {
      name: 'IS_DOMAIN_INTRODUCED of DOMID_SELF',
      on: 'a',
      request: { op: 'IS_DOMAIN_INTRODUCED', domid: 0x7ff0 },
    },
    {
      name: 'WATCH @introduceDomain',
      on: 'b',
      request: { op: 'WATCH', path: '@introduceDomain', token: 'in' },
      eventsAfter: 1,
    },
    {
      name: 'WATCH @releaseDomain',
      on: 'b',
      request: { op: 'WATCH', path: '@releaseDomain', token: 'out' },
      eventsAfter: 1,
    },
    {
      name: 'INTRODUCE of a fake guest',
      on: 'a',
      request: { op: 'INTRODUCE', domid: GUEST.domid, gfn: 1234, port: GUEST.port },
    },
    { name: 'the @introduceDomain event', on: 'b', events: 1 },
    {
      name: 'IS_DOMAIN_INTRODUCED of the guest',
      on: 'a',
      request: { op: 'IS_DOMAIN_INTRODUCED', domid: GUEST.domid },
    },
    {
      name: 'INTRODUCE with event channel 0: EINVAL',
      on: 'a',
      request: { op: 'INTRODUCE', domid: 7, gfn: 1, port: 0 },
    },
    {
      name: 'INTRODUCE of a second guest',
      on: 'a',
      request: { op: 'INTRODUCE', domid: CONTROLLER.domid, gfn: 1, port: CONTROLLER.port },
    },
    { name: 'the second @introduceDomain event', on: 'b', events: 1 },
    {
      name: 'SET_TARGET: the second guest controls the first',
      on: 'a',
      request: { op: 'SET_TARGET', domid: CONTROLLER.domid, target: GUEST.domid },
    },
    {
      name: 'SET_TARGET of unknown domains: ENOENT',
      on: 'a',
      request: { op: 'SET_TARGET', domid: 8, target: 9 },
    },
    { name: 'RESUME of the guest', on: 'a', request: { op: 'RESUME', domid: GUEST.domid } },
    {
      name: 'RELEASE of the controlling guest',
      on: 'a',
      request: { op: 'RELEASE', domid: CONTROLLER.domid },
    },
    { name: 'the @releaseDomain event of RELEASE', on: 'b', events: 1 },
    {
      name: 'the @releaseDomain event of a guest that died (VIRQ_DOM_EXC)',
      on: 'b',
      events: 1,
      destroyGuest: GUEST.domid,
    },
    { name: 'RELEASE of domain 0: EINVAL', on: 'a', request: { op: 'RELEASE', domid: 0 } },
    {
      name: 'RELEASE of an unknown domain: ENOENT',
      on: 'a',
      request: { op: 'RELEASE', domid: 99 },
    },
    { name: 'RESET_WATCHES', on: 'b', request: { op: 'RESET_WATCHES' } },
    {
      name: 'WRITE of a node with long children',
      on: 'a',
      request: { op: 'WRITE', path: '/big', value: Buffer.alloc(0) },
    },
    ...Array.from(
      { length: 24 },
      (_, i): Step => ({
        name: `WRITE of long child ${i}`,
        on: 'a',
        request: {
          op: 'WRITE',
          path: `/big/${'c'.repeat(200)}${String(i).padStart(2, '0')}`,
          value: Buffer.alloc(0),
        },
      }),
    ),
    {
      name: 'DIRECTORY whose reply would exceed 4096 bytes: E2BIG',
      on: 'a',
      request: { op: 'DIRECTORY', path: '/big' },
    },
    {
      name: 'DIRECTORY_PART first slice',
      on: 'a',
      request: { op: 'DIRECTORY_PART', path: '/big', offset: 0 },
    },
    {
      name: 'DIRECTORY_PART last slice',
      on: 'a',
      request: { op: 'DIRECTORY_PART', path: '/big', offset: partLength() },
    },
    {
      name: 'DIRECTORY_PART of a small directory',
      on: 'a',
      request: { op: 'DIRECTORY_PART', path: '/fx', offset: 0 },
    },
    { name: 'CONTROL print', on: 'a', request: { op: 'CONTROL', args: ['print', 'fixture'] } },
    {
      name: 'type 15 (WATCH_EVENT) from a client: ENOSYS',
      on: 'a',
      raw: { type: 15, payload: '/x\0t\0' },
    },
    {
      name: 'type 16 (ERROR) from a client: ENOSYS',
      on: 'a',
      raw: { type: 16, payload: 'EINVAL\0' },
    },
    { name: 'type 20 (removed RESTRICT): ENOSYS', on: 'a', raw: { type: 20, payload: '0\0' } },
    { name: 'GET_FEATURE: ENOSYS in 4.17', on: 'a', request: { op: 'GET_FEATURE' } },
    {
      name: 'SET_FEATURE: ENOSYS in 4.17',
      on: 'a',
      request: { op: 'SET_FEATURE', domid: 1, value: 1 },
    },
    { name: 'GET_QUOTA: ENOSYS in 4.17', on: 'a', request: { op: 'GET_QUOTA' } },
    {
      name: 'SET_QUOTA: ENOSYS in 4.17',
      on: 'a',
      request: { op: 'SET_QUOTA', quota: 'nodes', value: 1 },
    },
    { name: 'type 0xffff: ENOSYS', on: 'a', raw: { type: 0xffff, payload: '' } },
  ];
}

async function captureRaw(daemon: RealXenstored): Promise<RecordedExchange[]> {
  const connections = new Map<string, RawConnection>();
  const txIds: number[] = [];
  let lastPart = 0;
  const context: StepContext = { tx: (n) => txIds[n - 1] ?? 0, partLength: () => lastPart };
  await daemon.createGuest(GUEST.domid, GUEST.port);
  await daemon.createGuest(CONTROLLER.domid, CONTROLLER.port);
  const out: RecordedExchange[] = [];
  let reqId = 100;
  // Steps referring to transactions are built again after each TRANSACTION_START, so that they
  // carry the id the daemon chose.
  for (let i = 0; ; i++) {
    const step = steps(context)[i];
    if (!step) break;
    let connection = connections.get(step.on);
    if (!connection) {
      connection = await RawConnection.open(daemon.socketPath);
      connections.set(step.on, connection);
    }
    if ('events' in step) {
      if (step.destroyGuest !== undefined) await daemon.destroyGuest(step.destroyGuest);
      const received: Message[] = [];
      for (let n = 0; n < step.events; n++) received.push(await connection.next());
      out.push({ name: step.name, connection: step.on, received: received.map(hex) });
      continue;
    }
    const message: Message =
      'request' in step
        ? encodeRequest(step.request, { reqId: reqId++, txId: step.txId ?? 0 })
        : {
            type: step.raw.type,
            reqId: reqId++,
            txId: step.raw.txId ?? 0,
            payload: Buffer.from(step.raw.payload, 'latin1'),
          };
    const { before, reply } = await connection.exchange(message);
    const after: Message[] = [];
    for (let n = 0; n < ('eventsAfter' in step ? (step.eventsAfter ?? 0) : 0); n++) {
      after.push(await connection.next());
    }
    if (reply.type === MessageType.TRANSACTION_START) {
      txIds.push(decodeReply('TRANSACTION_START', reply));
    }
    if (reply.type === MessageType.DIRECTORY_PART) {
      lastPart = decodeReply('DIRECTORY_PART', reply).length;
    }
    out.push({
      name: step.name,
      connection: step.on,
      request: hex(message),
      received: [...before, reply, ...after].map(hex),
    });
  }
  for (const connection of connections.values()) connection.close();
  return out;
}

function hex(message: Message): string {
  return encodeMessage(message).toString('hex');
}

/** Each entry: a libxenstore tool command line and the transcripts of its connections. */
async function captureLibxenstore(
  install: XenInstall,
  daemon: RealXenstored,
): Promise<{ command: string[]; transcripts: RecordedMessage[][] }[]> {
  const proxy = await RecordingProxy.listen(join(daemon.rundir, 'proxy.sock'), daemon.socketPath);
  const env = clientEnv(install, join(daemon.rundir, 'proxy.sock'));
  const commands = [
    ['xenstore-write', '/lx/a', 'hello', '/lx/b', ''],
    ['xenstore-read', '/lx/a'],
    ['xenstore-read', '/lx/missing'],
    ['xenstore-exists', '/lx/a'],
    ['xenstore-list', '/lx'],
    ['xenstore-ls', '-p', '/lx'],
    ['xenstore-chmod', '/lx/a', 'b0', 'r3'],
    ['xenstore-rm', '/lx/b'],
    ['xenstore-watch', '-n', '2', '/lx'],
  ];
  const out = [];
  for (const command of commands) {
    const before = proxy.transcripts.length;
    const ran = execFileAsync(join(install.toolDir, command[0]!), command.slice(1), { env });
    if (command[0] === 'xenstore-watch') {
      // Once its watch is registered (OK and the first event), one change makes it exit.
      await proxy.serverSent(before, 2);
      await execFileAsync(join(install.toolDir, 'xenstore-write'), ['/lx/c', 'x'], { env });
    }
    // Failing tools (a read of a missing node) are recorded like the others.
    await ran.catch(() => undefined);
    await proxy.idle();
    out.push({ command, transcripts: proxy.transcripts.slice(before) });
  }
  await proxy.close();
  return out;
}

function debianVersion(install: XenInstall): string {
  const debs = readdirSync(join(install.root, '../debs'));
  const deb = debs.find((name) => name.startsWith('xen-utils-4.17_'));
  return deb?.split('_')[1] ?? 'unknown';
}

async function main(): Promise<void> {
  if (!xenInstall) throw new Error('the Xen packages are not available');
  const source = `C xenstored from Debian xen-utils-4.17 ${debianVersion(xenInstall)}`;
  const daemon = await startRealXenstored(xenInstall);
  try {
    const exchanges = await captureRaw(daemon);
    await writeFile(
      join(fixturesDir, 'xenstored-4.17-exchanges.json'),
      `${JSON.stringify({ source, exchanges }, null, 2)}\n`,
    );
    const sessions = await captureLibxenstore(xenInstall, daemon);
    await writeFile(
      join(fixturesDir, 'xenstored-4.17-libxenstore.json'),
      `${JSON.stringify({ source, sessions }, null, 2)}\n`,
    );
  } finally {
    await daemon.stop();
  }
}

await main();
