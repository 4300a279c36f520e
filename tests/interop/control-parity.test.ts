import { chmodSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { MessageType } from '../../src/xenstore/messages.ts';
import { XenstoreServer } from '../../src/xenstore/server.ts';
import type { Message } from '../../src/xenstore/wire.ts';
import { RawConnection } from '../support/raw-connection.ts';
import {
  type RealXenstored,
  startRealXenstored,
  type XenInstall,
  xenInstall,
} from '../support/real-xenstored.ts';
import { renderRaw, stringRequest } from '../support/string-request.ts';

// CONTROL memreport, logfile, quota <domid> and live-update: the same requests to C xenstored
// 4.17 and to the in-memory server, every reply compared.

const msg = stringRequest;
const render = renderRaw;

type Ask = (m: Message) => Promise<string>;

/** The script, on two dom0 connections: `ask` drives, `other` holds a transaction. */
async function script(ask: Ask, other: Ask, dir: string, binary: string): Promise<string[]> {
  const control = (...args: string[]) => ask(msg(MessageType.CONTROL, args));
  const out: string[] = [];
  await ask(msg(MessageType.WRITE, ['/local/domain/5/a', 'x'.repeat(40)]));
  await ask(msg(MessageType.SET_PERMS, ['/local/domain/5/a', 'n0', 'r5']));
  await ask(msg(MessageType.WATCH, ['/local/domain/5', 'token']));
  const notExecutable = join(dir, 'plain');
  writeFileSync(notExecutable, '');
  for (const args of [
    ['memreport'],
    ['memreport', 'a', 'b'],
    ['logfile'],
    ['logfile', join(dir, 'log')],
    ['memreport'],
    ['memreport', join(dir, 'report')],
    ['memreport', join(dir, 'no/such/dir/report')],
    ['quota', '0'],
    ['quota', '99'],
    ['quota', 'x'],
    ['live-update'],
    ['live-update', '-s'],
    ['live-update', '-a'],
    ['live-update', '-c', 'x'],
    ['live-update', '-f', join(dir, 'missing')],
    ['live-update', '-f', notExecutable],
    ['live-update', '-f', binary],
    ['live-update', '-f', binary],
    ['live-update', '-c', '-N'],
    ['live-update', '-s', '-q'],
    ['live-update', '-a'],
    ['live-update', '-a'],
  ]) {
    out.push(`${args.join(' ')} -> ${await control(...args)}`);
  }
  // An open transaction refuses the update, naming the connection's domain and its age.
  const tx = Number.parseInt(await other(msg(MessageType.TRANSACTION_START, [''])), 10);
  out.push(`start -> ${tx > 0}`);
  await control('live-update', '-f', binary);
  out.push(`-s with a transaction -> ${await control('live-update', '-s')}`);
  await other(msg(MessageType.TRANSACTION_END, ['F'], tx));
  await control('live-update', '-f', binary);
  out.push(`-s -> ${await control('live-update', '-s')}`);
  out.push(`after: ${await ask(msg(MessageType.READ, ['/local/domain/5/a']))}`);
  // C's memory figure grows across its live update (the restored state is charged again);
  // the rest of the report is compared.
  out.push(`after: ${(await control('quota', '0')).replace(/memory .*\n/, '')}`);
  return out;
}

describe.skipIf(!xenInstall)('CONTROL parity with C xenstored 4.17', () => {
  const install = xenInstall as XenInstall;
  let daemon: RealXenstored;
  let real: string[];
  let realDir: string;

  beforeAll(async () => {
    daemon = await startRealXenstored(install);
    const a = await RawConnection.open(daemon.socketPath);
    const b = await RawConnection.open(daemon.socketPath);
    await daemon.createGuest(5, 55);
    await a.exchange(msg(MessageType.INTRODUCE, ['5', '5', '55']));
    realDir = mkdtempSync(join(tmpdir(), 'xenwire-control-'));
    const binary = join(realDir, 'xenstored');
    writeFileSync(binary, `#!/bin/sh\nexec "${install.xenBinDir}/xenstored" "$@"\n`);
    chmodSync(binary, 0o755);
    real = await script(
      async (m) => render((await a.exchange(m)).reply),
      async (m) => render((await b.exchange(m)).reply),
      realDir,
      binary,
    );
    a.close();
    b.close();
  }, 60_000);

  afterAll(async () => {
    await daemon?.stop();
  });

  it('the in-memory server answers alike', async () => {
    const server = new XenstoreServer({ version: '4.17' });
    const ask = (conn: ReturnType<typeof server.connect>, got: Message[]) => async (m: Message) => {
      got.length = 0;
      conn.send(m);
      return render(got.find((r) => r.type !== MessageType.WATCH_EVENT)!);
    };
    const gotA: Message[] = [];
    const gotB: Message[] = [];
    const a = server.connect({ onMessage: (m) => gotA.push(m) });
    const b = server.connect({ onMessage: (m) => gotB.push(m) });
    await ask(a, gotA)(msg(MessageType.INTRODUCE, ['5', '5', '55']));
    const dir = mkdtempSync(join(tmpdir(), 'xenwire-control-'));
    const binary = join(dir, 'xenstored');
    writeFileSync(binary, '#!/bin/sh\n');
    chmodSync(binary, 0o755);
    const mock = await script(ask(a, gotA), ask(b, gotB), dir, binary);
    expect(mock.map((line) => line.replaceAll(dir, 'DIR'))).toEqual(
      real.map((line) => line.replaceAll(realDir, 'DIR')),
    );
    // Both wrote the memory report to the log file and the named file.
    expect(readFileSync(join(dir, 'report'), 'utf8')).not.toBe('');
    expect(readFileSync(join(realDir, 'report'), 'utf8')).not.toBe('');
    expect(readFileSync(join(dir, 'log'), 'utf8')).toContain('CONTROL');
  });
});
