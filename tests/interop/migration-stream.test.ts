import { spawn, spawnSync } from 'node:child_process';
import { chmodSync, existsSync, readFileSync, writeFileSync } from 'node:fs';
import { mkdtemp, rm, truncate, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { MessageType } from '../../src/xenstore/messages.ts';
import {
  DOMID_INVALID,
  decodeMigrationStream,
  encodeMigrationStream,
} from '../../src/xenstore/server/migration-stream.ts';
import { XenstoreServer } from '../../src/xenstore/server.ts';
import type { Message } from '../../src/xenstore/wire.ts';
import { GuestRingConnection } from '../support/guest-ring-connection.ts';
import { RawConnection } from '../support/raw-connection.ts';
import {
  type RealXenstored,
  startRealXenstored,
  type XenInstall,
  xenInstall,
} from '../support/real-xenstored.ts';
import { renderRaw, stringRequest } from '../support/string-request.ts';

// Fidelity of the migration stream against C xenstored 4.17: its live update writes the stream
// to RUNDIR/state_dump and execs the binary named by `live-update -f`; a wrapper copies the file
// before handing over to the real binary, which reads it back (`-U`).

const msg = stringRequest;
const text = (m: Message) => Buffer.from(m.payload).toString('latin1');
const render = (m: Message) => renderRaw(m).replace(/\0$/, '');

type Ask = (message: Message) => Promise<Message>;

/** Every node with value and permissions, walked through the protocol. */
async function walk(ask: Ask, path = '/', out: string[] = []): Promise<string[]> {
  const value = await ask(msg(MessageType.READ, [path]));
  const perms = await ask(msg(MessageType.GET_PERMS, [path]));
  out.push(`${path}=${JSON.stringify(text(value))} ${render(perms)}`);
  const children = render(await ask(msg(MessageType.DIRECTORY, [path])));
  for (const child of children.split('\0').filter(Boolean)) {
    await walk(ask, path === '/' ? `/${child}` : `${path}/${child}`, out);
  }
  return out;
}

/** What the state looks like from outside: tree, special permissions, domains. */
async function observe(ask: Ask): Promise<string[]> {
  const out = await walk(ask);
  for (const special of ['@introduceDomain', '@releaseDomain']) {
    out.push(`${special} ${render(await ask(msg(MessageType.GET_PERMS, [special])))}`);
  }
  for (const domid of ['3', '4', '5']) {
    out.push(`${domid} ${render(await ask(msg(MessageType.IS_DOMAIN_INTRODUCED, [domid])))}`);
  }
  return out;
}

// What a guest sees: its permissions on nodes of other owners and its target's.
const GUEST_PROBES: Message[] = [
  msg(MessageType.READ, ['/a/b']),
  msg(MessageType.READ, ['/a/c']),
  msg(MessageType.READ, ['/local/domain/3/data']),
  msg(MessageType.READ, ['/local/domain/4/secret']),
  msg(MessageType.WRITE, ['/a/new', 'x']),
  msg(MessageType.GET_PERMS, ['/local/domain/3']),
];

function mockAsk(server: XenstoreServer, domid: number): { ask: Ask; events: string[] } {
  const events: string[] = [];
  let reply: Message | undefined;
  const conn = server.connect({
    domid,
    onMessage: (m) => {
      if (m.type === MessageType.WATCH_EVENT) events.push(text(m));
      else reply = m;
    },
  });
  return {
    events,
    ask: async (message) => {
      conn.send(message);
      return reply!;
    },
  };
}

describe.skipIf(!xenInstall)('migration stream against C xenstored 4.17', () => {
  const install = xenInstall as XenInstall;
  let daemon: RealXenstored;
  let stream: Buffer;
  let dom0: RawConnection;
  let watcher: RawConnection;
  let waker: RawConnection;
  let guest: GuestRingConnection;
  const dom0Ask: Ask = async (m) => (await dom0.exchange(m)).reply;
  const guestEvents: string[] = [];
  let targetBefore = '';
  const guestAsk: Ask = async (m) => {
    await guest.send(m);
    for (;;) {
      const got = await guest.next();
      if (got.type !== MessageType.WATCH_EVENT) return got;
      guestEvents.push(text(got));
    }
  };

  beforeAll(async () => {
    daemon = await startRealXenstored(install);
    dom0 = await RawConnection.open(daemon.socketPath);
    watcher = await RawConnection.open(daemon.socketPath);
    waker = await RawConnection.open(daemon.socketPath);
    await dom0Ask(msg(MessageType.WRITE, ['/a/b', 'hello']));
    await dom0.exchange({
      ...msg(MessageType.WRITE, ['/a/c']),
      payload: Buffer.from('/a/c\0\x00\xffz', 'latin1'),
    });
    await dom0Ask(msg(MessageType.SET_PERMS, ['/a/b', 'n0', 'r5']));
    const g3 = await daemon.createGuest(3, 33);
    await daemon.createGuest(4, 44);
    await dom0.exchange({ ...msg(MessageType.INTRODUCE, []), payload: g3.introducePayload });
    await dom0Ask(msg(MessageType.INTRODUCE, ['4', '4', '44']));
    await dom0Ask(msg(MessageType.SET_TARGET, ['3', '4']));
    await dom0Ask(msg(MessageType.WRITE, ['/local/domain/3/data', 'd']));
    await dom0Ask(msg(MessageType.SET_PERMS, ['/local/domain/3', 'n3', 'r0']));
    await dom0Ask(msg(MessageType.SET_PERMS, ['/local/domain/3/data', 'b3']));
    await dom0Ask(msg(MessageType.WRITE, ['/local/domain/4/secret', 's']));
    await dom0Ask(msg(MessageType.SET_PERMS, ['/local/domain/4/secret', 'n4']));
    await dom0Ask(msg(MessageType.SET_PERMS, ['@releaseDomain', 'n0', 'r3']));
    for (const [path, token] of [
      ['/a', 'tokA'],
      ['@releaseDomain', 'tokR'],
      ['rel', 'tokRel'],
    ]) {
      await watcher.exchange(msg(MessageType.WATCH, [path!, token!]));
    }
    // The last registration event follows its reply.
    expect(text(await watcher.next())).toBe('rel\0tokRel\0');
    guest = new GuestRingConnection(g3.pagePath, async () => {
      await waker.exchange(msg(MessageType.READ, ['/tool']));
    });
    await guestAsk(msg(MessageType.WATCH, ['data', 'tok3']));
    await guestAsk(msg(MessageType.WATCH, ['/a/c', 'tok3c']));
    targetBefore = render(await guestAsk(msg(MessageType.READ, ['/local/domain/4/secret'])));

    const wrapper = join(daemon.rundir, 'capture.sh');
    writeFileSync(
      wrapper,
      `#!/bin/sh\ncp "${daemon.rundir}/state_dump" "${daemon.rundir}/captured"\n` +
        `exec "${install.xenBinDir}/xenstored" "$@"\n`,
    );
    chmodSync(wrapper, 0o755);
    expect(render(await dom0Ask(msg(MessageType.CONTROL, ['live-update', '-f', wrapper])))).toBe(
      'OK',
    );
    expect(render(await dom0Ask(msg(MessageType.CONTROL, ['live-update', '-s'])))).toBe('OK');
    stream = readFileSync(join(daemon.rundir, 'captured'));
    if (process.env.XENWIRE_WRITE_MIGRATION_FIXTURE) {
      writeFileSync(process.env.XENWIRE_WRITE_MIGRATION_FIXTURE, stream);
    }
  }, 60_000);

  afterAll(async () => {
    guest?.close();
    for (const conn of [dom0, watcher, waker]) conn?.close();
    await daemon?.stop();
  });

  it('the C daemon came back from its own stream with the same state', async () => {
    expect(existsSync(join(daemon.rundir, 'state_dump'))).toBe(false);
    expect(render(await dom0Ask(msg(MessageType.READ, ['/a/b'])))).toBe('hello');
  });

  it('C-written stream: the mock shows the same tree, permissions and domains', async () => {
    const server = XenstoreServer.fromMigrationStream(stream);
    // Written back byte for byte, but for the target C's reader loses too (see below).
    const { bigEndian, records } = decodeMigrationStream(stream);
    const asLoaded = records.map((r) =>
      r.type === 'connection' && r.kind === 'ring' && r.domid === 3
        ? { ...r, targetDomid: DOMID_INVALID }
        : r,
    );
    expect(Buffer.from(server.dumpMigrationStream())).toEqual(
      Buffer.from(encodeMigrationStream({ bigEndian, records: asLoaded })),
    );
    const mock = mockAsk(server, 0);
    expect(await observe(mock.ask)).toEqual(await observe(dom0Ask));
  });

  it("C-written stream: guests' permissions and every connection's watches carry on", async () => {
    const server = XenstoreServer.fromMigrationStream(stream);
    const mockDom0 = mockAsk(server, 0);
    // The watcher's socket: the connection whose watch carries tokA.
    const records = decodeMigrationStream(stream).records;
    const watcherId = records.flatMap((r) =>
      r.type === 'watch' && r.token === 'tokA' ? [r] : [],
    )[0]!.connId;
    const mockWatcherEvents: string[] = [];
    server.resumeConnection(watcherId, {
      onMessage: (m) => mockWatcherEvents.push(text(m)),
    });
    const mockGuest = mockAsk(server, 3);

    const real: string[] = [];
    const mock: string[] = [];
    for (const probe of GUEST_PROBES) {
      real.push(render(await guestAsk(probe)));
      mock.push(render(await mockGuest.ask(probe)));
    }
    expect(mock).toEqual(real);
    // C 4.17 restores SET_TARGET only when the target's ring was restored first: domain 4 came
    // after domain 3 in its connection list, so 3 lost the access to 4 it had before the update.
    expect(targetBefore).toBe('s');
    expect(real[3]).toBe('ERR EACCES');

    guestEvents.length = 0;
    const changes = [
      msg(MessageType.WRITE, ['/a/c', 'changed']),
      msg(MessageType.WRITE, ['/local/domain/3/data/y', '1']),
      msg(MessageType.WRITE, ['/local/domain/0/rel/z', '1']),
    ];
    for (const change of changes) {
      await dom0Ask(change);
      await mockDom0.ask(change);
    }
    const realWatcher: string[] = [];
    while (realWatcher.length < 2) realWatcher.push(text(await watcher.next()));
    await guestAsk(msg(MessageType.READ, ['/tool']));
    expect(mockWatcherEvents).toEqual(realWatcher);
    expect(mockGuest.events).toEqual(guestEvents);
    expect(guestEvents).toContain('data/y\0tok3\0');
  });

  it('C xenstored 4.17 starts from a stream the mock wrote', async () => {
    // A mock holding the C daemon's state, changed further; its sockets are gone with their fds.
    const server = XenstoreServer.fromMigrationStream(stream);
    for (const restored of server.restoredConnections()) {
      if (restored.kind === 'socket')
        server.resumeConnection(restored.connId, { onMessage() {} }).close();
    }
    const mock = mockAsk(server, 0);
    await mock.ask(msg(MessageType.WRITE, ['/from/the/mock', 'yes']));
    await mock.ask(msg(MessageType.SET_PERMS, ['/from', 'n0', 'r3']));
    const g = mockAsk(server, 3);
    await g.ask(msg(MessageType.WATCH, ['/from', 'mockwatch']));

    const fresh = await startFromStream(install, (global) =>
      server.dumpMigrationStream({ global }),
    );
    try {
      const ask: Ask = async (m) => (await fresh.conn.exchange(m)).reply;
      expect(await observe(ask)).toEqual(await observe(mock.ask));
      // The guest's watches came across: a change under /from reaches it over its ring.
      const wake = await RawConnection.open(fresh.socket);
      const ring = new GuestRingConnection(join(fresh.dir, 'dom3.page'), async () => {
        await wake.exchange(msg(MessageType.READ, ['/tool']));
      });
      await ask(msg(MessageType.WRITE, ['/from/x', '1']));
      const events: string[] = [];
      await ring.send(msg(MessageType.READ, ['/tool']));
      for (;;) {
        const got = await ring.next();
        if (got.type !== MessageType.WATCH_EVENT) break;
        events.push(text(got));
      }
      expect(events).toContain('/from/x\0mockwatch\0');
      ring.close();
      wake.close();
    } finally {
      await fresh.stop();
    }
  }, 60_000);
});

const harnessDir = fileURLToPath(new URL('../../harness/', import.meta.url));

/**
 * Starts C xenstored in live-update mode (`-U`) on a stream written by `write`, in a fresh shim
 * directory: a small python wrapper creates the listening socket and the event-channel socket at
 * fixed descriptors, which the stream's GLOBAL record names, as the old daemon would have left
 * them.
 */
async function startFromStream(
  install: XenInstall,
  write: (global: { socketFd: number; evtchnFd: number }) => Uint8Array,
) {
  const dir = await mkdtemp(join(tmpdir(), 'xenwire-lu-'));
  const shim = spawnSync(join(harnessDir, 'shim/build.sh'), { encoding: 'utf8' }).stdout.trim();
  await writeFile(join(dir, 'xsd_port'), '1');
  for (const page of ['xsd_kva', 'dom3.page', 'dom4.page']) {
    await writeFile(join(dir, page), '');
    await truncate(join(dir, page), 4096);
  }
  writeFileSync(join(dir, 'state_dump'), write({ socketFd: 20, evtchnFd: 21 }));
  const script =
    'import os,socket,sys\n' +
    'd=sys.argv[1]\n' +
    's=socket.socket(socket.AF_UNIX,socket.SOCK_STREAM); s.bind(d+"/socket"); s.listen(64)\n' +
    'e=socket.socket(socket.AF_UNIX,socket.SOCK_DGRAM); e.bind(d+"/evtchn.sock")\n' +
    'os.dup2(s.fileno(),20); os.dup2(e.fileno(),21)\n' +
    'os.execv(sys.argv[2],[sys.argv[2],"-N","-F",d+"/xenstored.pid","-U"])\n';
  const child = spawn('python3', ['-c', script, dir, join(install.xenBinDir, 'xenstored')], {
    env: {
      ...process.env,
      XENWIRE_SHIM_DIR: dir,
      XENSTORED_PATH: join(dir, 'socket'),
      XENSTORED_RUNDIR: dir,
      LD_LIBRARY_PATH: install.libDir,
      LD_PRELOAD: shim,
    },
    stdio: 'ignore',
  });
  const socket = join(dir, 'socket');
  let conn: RawConnection | undefined;
  for (let i = 0; i < 200 && !conn; i++) {
    if (child.exitCode !== null) throw new Error(`xenstored -U exited ${child.exitCode}`);
    try {
      conn = await RawConnection.open(socket);
    } catch {
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
  }
  if (!conn) throw new Error('xenstored -U did not answer');
  return {
    conn,
    socket,
    dir,
    async stop() {
      conn.close();
      child.kill('SIGTERM');
      await new Promise((resolve) => child.once('exit', resolve));
      await rm(dir, { recursive: true, force: true });
    },
  };
}
