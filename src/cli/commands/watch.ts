import { jsonLine } from '../json.ts';
import type { Perform } from '../xenstore-tool.ts';

/**
 * `watch [-n NR] key...`: watch every key and print the path of each event as it comes, from
 * all watches in arrival order, `NR` events in all (forever when not given).
 */
export const performWatch: Perform = async ({ client, operands, flags, diag, io }) => {
  const watches = [];
  for (const path of operands) {
    try {
      watches.push(await client.watch(path));
    } catch {
      diag.errx(`Unable to add watch on ${path}\n`);
    }
  }
  // Each event with the key whose watch fired, which `--json` reports.
  const events: { path: string; watch: string }[] = [];
  let wake: (() => void) | undefined;
  let lost = false;
  const ready = () => {
    wake?.();
    wake = undefined;
  };
  // Listeners receive the registration events queued so far, in the order they are added.
  for (const watch of watches) {
    watch.on('event', (event) => {
      events.push({ path: event.path, watch: watch.path });
      ready();
    });
    watch.on('close', () => {
      lost = true;
      ready();
    });
  }
  for (let count = 0; flags.watchCount < 0 || count < flags.watchCount; count++) {
    while (events.length === 0 && !lost) {
      await new Promise<void>((resolve) => {
        wake = resolve;
      });
    }
    const event = events.shift();
    if (!event) return diag.errx('connection to xenstored lost');
    io.stdout.write(flags.json ? jsonLine(event) : `${event.path}\n`);
  }
  return 0;
};
