import { randomBytes } from 'node:crypto';
import { linkSync, lstatSync, type Stats, unlinkSync } from 'node:fs';
import net from 'node:net';
import { dirname, join } from 'node:path';
import { isWireErrorName } from '../constants.ts';
import { XenstoreError, type XenstoreErrorCode } from '../errors.ts';

/**
 * The file of a listening unix socket, claimed so that a live server is never taken over: the
 * path is used only when nothing is there or nothing answers on it, and on release only the
 * socket this process bound is removed.
 */

/** Longest unix socket path in bytes: `sun_path` holds 108, the last a nul. */
export const SOCKET_PATH_MAX = 107;

/** Throws `ENAMETOOLONG` for a path the kernel would silently cut to its first 107 bytes. */
export function assertSocketPathFits(path: string): void {
  const length = Buffer.byteLength(path);
  if (length > SOCKET_PATH_MAX) {
    throw new XenstoreError(
      'ENAMETOOLONG',
      `socket path ${path} is ${length} bytes; a unix socket path holds at most ${SOCKET_PATH_MAX} (ENAMETOOLONG)`,
    );
  }
}

/** What listens on a socket file: a `net.Server`, or a socket of the native addon. */
export interface SocketBinder {
  /** Listens on `path`; rejects with the errno's `code` (`EADDRINUSE` when a file is there). */
  listen(path: string): Promise<void>;
  /** Stops listening. */
  close(): Promise<void>;
}

/** A socket file this process bound. */
export interface ClaimedSocketFile {
  readonly path: string;
  /** Removes the file if it is still the socket this process bound (same device and inode). */
  release(): void;
}

/**
 * Makes `binder` listen on `path` without taking over a live socket. A socket file there on
 * which nothing answers (connect: ECONNREFUSED, its server died) is removed; one on which a
 * server answers, or any other file, fails with `EADDRINUSE` and is left alone. A path over
 * {@link SOCKET_PATH_MAX} bytes is `ENAMETOOLONG` before anything is created.
 *
 * The binder binds a fresh name in the same directory first, which is then hard-linked to
 * `path`: `link(2)` never replaces a file, so a server that appears at `path` meanwhile is not
 * clobbered either. It also keeps Node from removing `path` when the server closes (it removes
 * the name it bound, whatever is there by then); {@link ClaimedSocketFile.release} does that,
 * and only for the same inode.
 */
export async function claimSocketFile(
  binder: SocketBinder,
  path: string,
): Promise<ClaimedSocketFile> {
  assertSocketPathFits(path);
  await clearStaleSocket(path);
  const bound = await listenOnFreshName(binder, path);
  try {
    await linkInPlace(bound, path);
  } catch (error) {
    await binder.close();
    throw error;
  } finally {
    unlinkQuietly(bound);
  }
  const { dev, ino } = lstatSync(path);
  return {
    path,
    release() {
      const now = lstatSync(path, { throwIfNoEntry: false });
      if (now?.dev === dev && now.ino === ino) unlinkQuietly(path);
    },
  };
}

/** Removes `path` if it is a socket nobody answers on; throws EADDRINUSE if it is in use. */
async function clearStaleSocket(path: string): Promise<void> {
  const found = lstatSync(path, { throwIfNoEntry: false });
  if (found === undefined) return;
  if (!found.isSocket()) {
    throw new XenstoreError(
      'EADDRINUSE',
      `cannot listen on ${path}: a file that is not a socket is there (EADDRINUSE); left in place`,
    );
  }
  const answer = await probe(path);
  if (answer === 'gone') return;
  if (answer !== 'refused') {
    throw new XenstoreError(
      'EADDRINUSE',
      answer === 'answered'
        ? `cannot listen on ${path}: a server answers there (EADDRINUSE); left in place`
        : `cannot listen on ${path}: cannot tell whether a server answers there (${answer}); left in place`,
    );
  }
  // Only the file probed: another server may have replaced it since.
  if (sameFile(found, lstatSync(path, { throwIfNoEntry: false }))) unlinkQuietly(path);
}

/** What a connect's failure says about the socket file. */
const PROBE_ANSWERS: Readonly<Record<string, string>> = {
  ECONNREFUSED: 'refused',
  ENOENT: 'gone',
  // The listen backlog is full: someone listens.
  EAGAIN: 'answered',
};

/** Connects to `path` and hangs up: `answered`, `refused` (stale), `gone`, or the errno name. */
function probe(path: string): Promise<string> {
  return new Promise((resolve) => {
    const socket = net.connect(path);
    socket.once('connect', () => {
      socket.destroy();
      resolve('answered');
    });
    socket.once('error', (error: NodeJS.ErrnoException) => {
      socket.destroy();
      const code = error.code ?? error.message;
      resolve(PROBE_ANSWERS[code] ?? code);
    });
  });
}

/** Attempts at binding a fresh name, and at linking it into place, before giving up. */
const ATTEMPTS = 5;

/**
 * Listens on an unused name beside `path`, no longer than `path` allows, so that it fits in
 * `sun_path` as well; returns that name.
 */
async function listenOnFreshName(binder: SocketBinder, path: string): Promise<string> {
  const directory = dirname(path);
  // Bytes left for the name after the directory and its separator.
  const room = SOCKET_PATH_MAX - Buffer.byteLength(directory) - 1;
  for (let attempt = 1; ; attempt++) {
    const random = randomBytes(12).toString('hex');
    const name = join(directory, room >= 8 ? `.${random}`.slice(0, room) : random.slice(0, room));
    try {
      await binder.listen(name);
      return name;
    } catch (error) {
      const code = (error as NodeJS.ErrnoException).code;
      if (code !== 'EADDRINUSE' || attempt >= ATTEMPTS) {
        throw socketFileError(error, `cannot create a socket in ${directory}`);
      }
    }
  }
}

/** Links `bound` to `path`, clearing a stale socket that appeared there meanwhile. */
async function linkInPlace(bound: string, path: string): Promise<void> {
  for (let attempt = 1; ; attempt++) {
    try {
      linkSync(bound, path);
      return;
    } catch (error) {
      const code = (error as NodeJS.ErrnoException).code;
      if (code !== 'EEXIST' || attempt >= ATTEMPTS) {
        throw socketFileError(error, `cannot create ${path}`);
      }
    }
    await clearStaleSocket(path);
  }
}

function sameFile(a: Stats, b: Stats | undefined): boolean {
  return b !== undefined && a.dev === b.dev && a.ino === b.ino;
}

function unlinkQuietly(path: string): void {
  try {
    unlinkSync(path);
  } catch {
    // Already gone.
  }
}

/** A failure to create the socket file, typed by the system's errno name where it is a wire one. */
function socketFileError(error: unknown, what: string): XenstoreError {
  const code = (error as NodeJS.ErrnoException).code ?? 'EIO';
  const typed: XenstoreErrorCode =
    code === 'EEXIST' || code === 'EADDRINUSE'
      ? 'EADDRINUSE'
      : isWireErrorName(code)
        ? code
        : 'EIO';
  return new XenstoreError(typed, `${what}: ${code}`, undefined, undefined, { cause: error });
}
