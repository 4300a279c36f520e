import { isXenstoreError, type XenstoreClient } from '../xenstore/index.ts';
import { XenbusError } from './errors.ts';

/**
 * Reads a key the handshake needs.
 * @throws XenbusError `ENOENT` when it is missing (or unreadable)
 */
export async function readKey(client: XenstoreClient, path: string): Promise<string> {
  try {
    return await client.readString(path);
  } catch (error) {
    throw new XenbusError('ENOENT', `${path} is missing`, { cause: error });
  }
}

/**
 * Reads a key that may not be written yet.
 * @returns its value, or `undefined` when it does not exist
 */
export async function readKeyIfPresent(
  client: XenstoreClient,
  path: string,
): Promise<string | undefined> {
  try {
    return await client.readString(path);
  } catch (error) {
    if (isXenstoreError(error, 'ENOENT')) return undefined;
    throw error;
  }
}

/**
 * Parses a non-negative decimal integer key (a domid, grant ref, port, order).
 * @throws XenbusError `EPROTO` for anything else
 */
export function parseNumberKey(text: string, path: string): number {
  if (!/^\d{1,10}$/.test(text)) {
    throw new XenbusError('EPROTO', `${path} holds ${JSON.stringify(text)}, not a number`);
  }
  return Number(text);
}

/** Reads and parses a numeric key. @throws XenbusError `ENOENT`, `EPROTO` */
export async function readNumberKey(client: XenstoreClient, path: string): Promise<number> {
  return parseNumberKey(await readKey(client, path), path);
}
