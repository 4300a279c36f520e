import type { CommandEntry } from './command.ts';

/**
 * Every `xenwire` subcommand, one line each: its summary for `xenwire --help` and the module that
 * implements it (exporting `command`), loaded only when the command runs. The subcommand's own
 * usage and `--help` text live in that module.
 */

const entry = (summary: string, load: CommandEntry['load']): CommandEntry => ({ summary, load });

/** Xen 4.17's `xenstore-*` tools; also reachable through links named `xenstore-<name>`. */
export const dropInCommands: Readonly<Record<string, CommandEntry>> = {
  read: entry('print the values of keys', () => import('./commands/read.ts')),
  write: entry('write values', () => import('./commands/write.ts')),
  ls: entry('print a subtree', () => import('./commands/ls.ts')),
  list: entry('print the children of keys', () => import('./commands/list.ts')),
  rm: entry('remove nodes', () => import('./commands/rm.ts')),
  exists: entry('exit status 0 when every key exists', () => import('./commands/exists.ts')),
  chmod: entry('set permissions', () => import('./commands/chmod.ts')),
  watch: entry('print watch events', () => import('./commands/watch.ts')),
  control: entry('send xenstored control commands', () => import('./commands/control.ts')),
};

/** xenwire's own tools. */
export const toolCommands: Readonly<Record<string, CommandEntry>> = {
  serve: entry('run the in-memory xenstored', () => import('./commands/serve.ts')),
  proxy: entry('decode and record the traffic to a xenstored', () => import('./commands/proxy.ts')),
  replay: entry(
    'replay a trace, report where replies differ',
    () => import('./commands/replay.ts'),
  ),
  tree: entry('print a subtree, redrawn as it changes', () => import('./commands/tree.ts')),
  snapshot: entry(
    "write a daemon's store as a xenstore migration stream",
    () => import('./commands/snapshot.ts'),
  ),
  blkback: entry(
    'serve a disk image to a guest as a blkif backend',
    () => import('./commands/blkback.ts'),
  ),
  console: entry(
    "a guest's PV console, as its backend, like xl console",
    () => import('./commands/console.ts'),
  ),
  doctor: entry('show what works on this machine', () => import('./commands/doctor.ts')),
  conformance: entry(
    "check a xenstored against the protocol's rules",
    () => import('./commands/conformance.ts'),
  ),
};
