import { linkSync } from 'node:fs';
import { createServer } from 'node:net';

/** Leaves a socket file nobody listens on at `path`, as a server killed with SIGKILL does. */
export async function staleSocket(path: string): Promise<void> {
  const bound = `${path}.bound`;
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(bound, resolve));
  linkSync(bound, path);
  // Node removes the name it bound on close, not the second name of the same socket.
  await new Promise((resolve) => server.close(resolve));
}
