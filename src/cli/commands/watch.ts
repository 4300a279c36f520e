import { jsonLine } from '../json.ts';
import { errorCode } from '../target.ts';
import { dropInCommand } from '../xenstore-tool.ts';

/**
 * `watch [-n NR] key...`: watch every key and print the path of each event as it comes, from
 * all watches in arrival order, `NR` events in all (forever when not given).
 */
export const command = dropInCommand({
  mode: 'watch',
  usage: '[-h] [-n NR] key',
  description: `Watches each key and prints the path of every change at or below it as it comes, the
registration of each watch first. Runs until killed.
  -n, --number NR  stop after NR events
  --json           one JSON line per event: {"path", "watch"} (the key whose watch fired)`,
  letters: 'n',
  json: true,
  transaction: () => false,
  perform: async ({ client, operands, flags, diag, io }) => {
    const watches = [];
    for (const path of operands) {
      try {
        watches.push(await client.watch(path));
      } catch (error) {
        diag.errx(`Unable to add watch on ${path}\n`, { code: errorCode(error), path });
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
      if (!event) return diag.errx('connection to xenstored lost', { code: 'ECONNRESET' });
      io.stdout.write(flags.json ? jsonLine(event) : `${event.path}\n`);
    }
    return 0;
  },
});
