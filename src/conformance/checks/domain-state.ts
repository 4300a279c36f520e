import { toText } from '../../xenstore/index.ts';
import { CheckFailure } from '../check.ts';
import type { CheckConnection } from '../connection.ts';

/** IS_DOMAIN_INTRODUCED's answer as text: `T\0` or `F\0`. */
export async function isIntroduced(conn: CheckConnection, domid: number): Promise<string> {
  return toText(await conn.ok({ op: 'IS_DOMAIN_INTRODUCED', domid }));
}

/**
 * IS_DOMAIN_INTRODUCED, asked until it says `F` or the reply timeout passes: a domain's death is
 * handled when the server gets round to the hypervisor's interrupt, not in answer to a request.
 */
export async function awaitGone(conn: CheckConnection, domid: number): Promise<void> {
  const deadline = Date.now() + conn.timeoutMs;
  while ((await isIntroduced(conn, domid)) !== 'F\0') {
    if (Date.now() > deadline) throw new CheckFailure(`domain ${domid} is still introduced`);
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}
