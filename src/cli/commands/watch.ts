import { jsonLine } from '../json.ts';
import type { Perform } from '../xenstore-tool.ts';

/**
 * `watch [-n NR] key...`: watch every key (its own token) and print the path of each event as it
 * comes, `NR` events in all (forever when not given). Ends when the user interrupts.
 */
export const performWatch: Perform = async ({ session, operands, flags, diag, io }) => {
  for (const path of operands) {
    try {
      await session.request({ op: 'WATCH', path, token: path });
    } catch {
      diag.errx(`Unable to add watch on ${path}\n`);
    }
  }
  const stop = new Promise<undefined>((resolve) => {
    if (io.signal?.aborted) resolve(undefined);
    io.signal?.addEventListener('abort', () => resolve(undefined), { once: true });
  });
  for (let count = 0; flags.watchCount < 0 || count < flags.watchCount; count++) {
    const event = await Promise.race([session.nextWatchEvent(), stop]);
    if (!event) {
      if (io.signal?.aborted) return 0;
      return diag.errx('connection to xenstored lost');
    }
    io.stdout.write(flags.json ? jsonLine(event) : `${event.path}\n`);
  }
  return 0;
};
