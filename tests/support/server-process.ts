import { type ChildProcess, spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';

const repo = fileURLToPath(new URL('../../', import.meta.url));

/** What a process printed and how it ended. */
export interface Exited {
  status: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
}

/** A process started in the repository, as a user starts a server there. */
export interface Started {
  readonly child: ChildProcess;
  readonly exited: Promise<Exited>;
  /** Resolves once the process printed `pattern` on stdout; rejects if it exits first. */
  printed(pattern: RegExp): Promise<void>;
}

export function startProcess(command: string, args: readonly string[]): Started {
  const child = spawn(command, args, { cwd: repo, stdio: ['ignore', 'pipe', 'pipe'] });
  let stdout = '';
  let stderr = '';
  const waiters: (() => void)[] = [];
  child.stdout!.on('data', (chunk) => {
    stdout += chunk;
    for (const wake of waiters.splice(0)) wake();
  });
  child.stderr!.on('data', (chunk) => {
    stderr += chunk;
  });
  const exited = new Promise<Exited>((resolve) =>
    child.on('close', (status, signal) => resolve({ status, signal, stdout, stderr })),
  );
  const printed = async (pattern: RegExp): Promise<void> => {
    let done = false;
    void exited.then(() => {
      done = true;
      for (const wake of waiters.splice(0)) wake();
    });
    while (!pattern.test(stdout)) {
      if (done) throw new Error(`exited before printing ${pattern}: ${stderr}`);
      await new Promise<void>((resolve) => waiters.push(resolve));
    }
  };
  return { child, exited, printed };
}

/**
 * The in-memory xenstored as `npm start` runs it, on `socket`, started without npm in between so
 * that signals reach the server itself; resolves once it serves.
 */
export async function startInMemoryDaemon(socket: string): Promise<Started> {
  const started = startProcess(process.execPath, [
    '--import',
    'tsx',
    'src/cli/run.ts',
    'serve',
    '--dom0-tree',
    '--socket',
    socket,
  ]);
  await started.printed(/^listening on /m);
  return started;
}
