import type { CliIo } from '../io.ts';

export async function runTree(_args: readonly string[], _io: CliIo): Promise<number> {
  return 1;
}
