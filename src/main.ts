/**
 * `npm start`: an in-memory xenstored on a unix socket in the working directory, seeded with a
 * realistic Domain-0 tree. Ctrl-C stops it and removes the socket.
 *
 * Flags: --socket PATH, --seed FILE (a JSON store dump), --guests 1,2,5, --guest-dir DIR,
 * --trace FILE (JSON lines), --version 4.17, --commit-failure-rate R, --fault-seed N,
 * --conflicts generation|coalesce.
 */
import { parseArgs } from 'node:util';
import { serve } from './xenstore/server.ts';

const { values } = parseArgs({
  options: {
    socket: { type: 'string' },
    seed: { type: 'string' },
    guests: { type: 'string' },
    'guest-dir': { type: 'string' },
    trace: { type: 'string' },
    version: { type: 'string' },
    'commit-failure-rate': { type: 'string' },
    'fault-seed': { type: 'string' },
    conflicts: { type: 'string' },
  },
});

const guestDomains = values.guests
  ? values.guests.split(',').map((text) => {
      const domid = Number(text);
      if (!Number.isInteger(domid) || domid <= 0 || domid >= 0x7ff0) {
        throw new Error(`--guests: ${JSON.stringify(text)} is not a guest domid`);
      }
      return domid;
    })
  : undefined;
if (values.conflicts && values.conflicts !== 'generation' && values.conflicts !== 'coalesce') {
  throw new Error('--conflicts must be generation or coalesce');
}

// A refusal (a server already answers on the socket, a path too long) is one line, not a trace.
const served = await serve({
  socketPath: values.socket,
  seedFile: values.seed,
  guestDomains,
  guestSocketDir: values['guest-dir'] ?? (guestDomains ? '.' : undefined),
  trace: values.trace,
  version: values.version === '4.17' ? '4.17' : 'current',
  commitFailureRate: values['commit-failure-rate'] ? Number(values['commit-failure-rate']) : 0,
  faultSeed: values['fault-seed'] ? Number(values['fault-seed']) : undefined,
  conflicts: values.conflicts as 'generation' | 'coalesce' | undefined,
}).catch((error: unknown) => {
  console.error(`xenwire: ${(error as Error).message}`);
  process.exit(1);
});

console.log(`XENSTORED_PATH=${served.socketPath}`);
for (const [domid, path] of served.guestSockets) console.log(`dom${domid}: ${path}`);

let stopping = false;
const stop = (): void => {
  if (stopping) return;
  stopping = true;
  served.close().then(
    () => process.exit(0),
    (err: unknown) => {
      console.error(err);
      process.exit(1);
    },
  );
};
process.on('SIGINT', stop);
process.on('SIGTERM', stop);
