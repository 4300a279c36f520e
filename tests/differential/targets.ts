import { existsSync } from 'node:fs';
import { mkdtemp, rm, unlink } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  askIntroduced,
  barrier,
  changesDomains,
  type DifferentialTarget,
  GUEST_DOMIDS,
  probe,
  type ReferenceTarget,
  settleWithin,
} from '../../src/conformance/fuzz/run-script.ts';
import { MessageType } from '../../src/xenstore/messages.ts';
import { type Listener, socketListener, XenstoreServer } from '../../src/xenstore/server.ts';
import { GuestRingConnection } from '../support/guest-ring-connection.ts';
import { RawConnection } from '../support/raw-connection.ts';
import {
  type RealXenstored,
  startRealXenstored,
  type XenInstall,
} from '../support/real-xenstored.ts';

// The script runner and target contracts live in src/conformance/fuzz (xenwire conformance --fuzz);
// the targets that need the harness or a private in-memory server are here.
export * from '../../src/conformance/fuzz/run-script.ts';

/**
 * The real C xenstored. Its hypervisor (the shim) says a guest exists while its page file does;
 * the in-memory server knows only introduced domains. So a page file exists exactly while its
 * domain is introduced, which makes the two agree on which domains exist.
 */
export async function realTarget(install: XenInstall): Promise<ReferenceTarget> {
  let daemon: RealXenstored;
  let waker: RawConnection;
  const start = async () => {
    daemon = await startRealXenstored(install);
    // Any request on the socket makes the daemon run its loop, which services the rings too.
    // Opened up front: C's event order can depend on the order connections were opened in.
    waker = await RawConnection.open(daemon.socketPath);
  };
  await start();
  const page = (domid: number) => join(daemon.rundir, `dom${domid}.page`);
  const wake = async () => {
    await waker.exchange(barrier);
  };
  const isIntroduced = (domid: number) => askIntroduced(waker, domid);
  return {
    name: install.set === 'xen' ? 'C xenstored' : `C xenstored (${install.set})`,
    get socketPath() {
      return daemon.socketPath;
    },
    async openGuest(domid) {
      return new GuestRingConnection(page(domid), wake);
    },
    isIntroduced,
    // Which domain an INTRODUCE names is the daemon's reading of its payload: every guest that
    // is not introduced exists for the step, and afterwards only those introduced remain.
    async beforeStep(step) {
      if (changesDomains(step) !== MessageType.INTRODUCE) return;
      for (const domid of GUEST_DOMIDS) {
        if (!existsSync(page(domid))) await daemon.createGuest(domid, 0);
      }
    },
    async afterStep(step) {
      if (changesDomains(step) === undefined) return;
      for (const domid of GUEST_DOMIDS) {
        if (existsSync(page(domid)) && !(await isIntroduced(domid))) await unlink(page(domid));
      }
    },
    async failure(deadlineMs) {
      if (daemon.isRunning()) {
        const answered = await settleWithin(probe(daemon.socketPath), deadlineMs);
        if ('value' in answered) return undefined;
        // A daemon on its way out (an assertion's abort) drops connections a moment before it is
        // seen to exit; then its log, not the dropped connection, says what happened.
        if (!(await daemon.exited(EXIT_GRACE_MS))) {
          const why =
            'error' in answered ? String(answered.error) : `nothing within ${deadlineMs} ms`;
          return `pid ${daemon.pid} runs but does not answer a new connection (${why})`;
        }
      }
      // The daemon's messages do not always end their lines, so the tail is cut by length.
      const log = (await daemon.readLog()).trim();
      const tail = log.length > LOG_TAIL ? `...${log.slice(-LOG_TAIL)}` : log;
      return `pid ${daemon.pid} exited${tail ? `; its log ends: ${tail}` : ''}`;
    },
    async restart() {
      waker.close();
      await daemon.stop();
      await start();
    },
    async stop() {
      waker.close();
      await daemon.stop();
    },
  };
}

/** How much of a dead daemon's log a failure quotes. */
const LOG_TAIL = 200;

/** How long a daemon that stopped answering is given to be seen exiting. */
const EXIT_GRACE_MS = 1000;

/** The in-memory xenstored in 4.17 mode, on a unix socket in this process. */
export async function mockTarget(): Promise<DifferentialTarget> {
  const dir = await mkdtemp(join(tmpdir(), 'xenwire-diff-'));
  const server = new XenstoreServer({ version: '4.17' });
  const listener = await socketListener(server, { path: join(dir, 'socket') });
  const guestListeners = new Map<number, Listener>();
  return {
    name: 'in-memory xenstored',
    socketPath: listener.path,
    async openGuest(domid) {
      let guest = guestListeners.get(domid);
      if (!guest) {
        guest = await socketListener(server, { path: join(dir, `dom${domid}.sock`), domid });
        guestListeners.set(domid, guest);
      }
      return RawConnection.open(guest.path);
    },
    async isIntroduced(domid) {
      return server.domains.isIntroduced(domid);
    },
    async beforeStep() {},
    async afterStep() {},
    async stop() {
      for (const guest of guestListeners.values()) await guest.close();
      await listener.close();
      server.close();
      await rm(dir, { recursive: true, force: true });
    },
  };
}
