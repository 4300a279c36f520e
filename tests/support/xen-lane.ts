// Run a shell command inside a real Xen 4.17 Dom0, booted under QEMU by xen-lane/boot.sh, for the
// project's own device-level tests.
import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

/** Why the lane could not be run at all (a finished run reports its status instead). */
export type XenLaneErrorCode = 'EINVAL' | 'ENOENT' | 'ESPAWN';

export class XenLaneError extends Error {
  readonly code: XenLaneErrorCode;
  constructor(code: XenLaneErrorCode, message: string) {
    super(message);
    this.name = 'XenLaneError';
    this.code = code;
  }
}

export interface RunInXenOptions {
  /** A bash command line, run in Dom0 from the checkout (chrooted into this machine's root). */
  command: string;
  /** The whole run's limit: fetching, boot, the command and power-off. Default 15 minutes. */
  timeoutMs?: number;
  /** Called with the console output as it arrives (Xen's and Dom0's), e.g. to stream it to a log. */
  onOutput?: (chunk: string) => void;
  /** The checkout holding xen-lane/ (default: the one this file belongs to). */
  repoRoot?: string;
}

export interface RunInXenResult {
  /** The command's exit status; 124 on timeout, 125 if QEMU stopped without a status. */
  status: number;
  timedOut: boolean;
  /** Everything the boot printed: the lane's own messages, Xen's and Dom0's console. */
  output: string;
  /** Just the command's output, cut from the console between the lane's markers. */
  commandOutput: string;
  durationMs: number;
}

const DEFAULT_TIMEOUT_MS = 15 * 60_000;
/** The lane's own reports that the boot did not finish in time (boot.sh and timeout(1)). */
const TIMED_OUT = 124;
const BEGIN_MARKER = '@@xen-lane:command-begin@@';
const END_MARKER = /@@xen-lane:command-end status=\d+@@/;

export function defaultRepoRoot(): string {
  return fileURLToPath(new URL('../..', import.meta.url));
}

/** Boots Xen with a Dom0, runs `command` there and resolves with its status and output. */
export function runInXen(options: RunInXenOptions): Promise<RunInXenResult> {
  const { command, onOutput } = options;
  const timeoutMs = options.timeoutMs ?? DEFAULT_TIMEOUT_MS;
  if (typeof command !== 'string' || command.trim() === '') {
    return Promise.reject(
      new XenLaneError('EINVAL', 'runInXen: command must be a non-empty string'),
    );
  }
  if (!Number.isFinite(timeoutMs) || timeoutMs < 1000) {
    return Promise.reject(
      new XenLaneError('EINVAL', `runInXen: timeoutMs ${timeoutMs} is below 1000`),
    );
  }
  const repoRoot = options.repoRoot ?? defaultRepoRoot();
  const bootScript = `${repoRoot.replace(/\/$/, '')}/xen-lane/boot.sh`;
  if (!existsSync(bootScript)) {
    return Promise.reject(new XenLaneError('ENOENT', `runInXen: ${bootScript} not found`));
  }

  const started = Date.now();
  return new Promise((resolve, reject) => {
    const child = spawn('bash', [bootScript, '-t', String(Math.ceil(timeoutMs / 1000)), command], {
      cwd: repoRoot,
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    const chunks: string[] = [];
    const collect = (data: Buffer): void => {
      // The serial console ends lines with CRLF.
      const text = data.toString('utf8').replaceAll('\r', '');
      chunks.push(text);
      onOutput?.(text);
    };
    child.stdout.on('data', collect);
    child.stderr.on('data', collect);
    // boot.sh enforces the limit itself; this only guards against the script hanging beyond it.
    const guard = setTimeout(() => child.kill('SIGKILL'), timeoutMs + 30_000);
    child.once('error', (error) => {
      clearTimeout(guard);
      reject(new XenLaneError('ESPAWN', `runInXen: cannot start ${bootScript}: ${error.message}`));
    });
    child.once('close', (code, signal) => {
      clearTimeout(guard);
      const output = chunks.join('');
      const status = code ?? (signal === null ? 125 : TIMED_OUT);
      resolve({
        status,
        timedOut: status === TIMED_OUT,
        output,
        commandOutput: commandOutputOf(output),
        durationMs: Date.now() - started,
      });
    });
  });
}

/** The text between the lane's begin and end markers (empty if the command never started). */
export function commandOutputOf(output: string): string {
  const begin = output.indexOf(BEGIN_MARKER);
  if (begin < 0) return '';
  const rest = output.slice(begin + BEGIN_MARKER.length).replace(/^\n/, '');
  const end = rest.search(END_MARKER);
  return end < 0 ? rest : rest.slice(0, end);
}
