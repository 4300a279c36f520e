import { execFileSync, spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';
import { loadNative, nativeAddonPath } from '../../src/device/index.ts';
import { SocketEventChannel, Virq } from '../../src/evtchn/index.ts';
import { nativeAddonReady, requirement } from '../support/requirements.ts';
import { code } from './support/error-code.ts';

const ready = nativeAddonReady();
const pythonReady =
  ready &&
  requirement(
    'python3',
    spawnSync('python3', ['--version']).status === 0 ? undefined : 'python3 not found on PATH',
  );
const dir = mkdtempSync(join(tmpdir(), 'xenwire-sock-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
let counter = 0;

function pair() {
  const n = counter++;
  const aPath = join(dir, `a${n}.sock`);
  const bPath = join(dir, `b${n}.sock`);
  const a = SocketEventChannel.open({ localPath: aPath, peerPath: bPath });
  const b = SocketEventChannel.open({ localPath: bPath, peerPath: aPath, portRange: [100, 200] });
  return { a, b, aPath, bPath };
}

describe.skipIf(!ready)('SocketEventChannel', () => {
  it('carries notifications both ways with one shared port number', async () => {
    const { a, b } = pair();
    const port = a.bindUnboundPort(2);
    expect(b.bindInterdomain(1, port)).toBe(port);
    const atB = b.pending();
    const atA = a.pending();
    a.notify(port);
    expect(await atB.next()).toEqual({ value: port, done: false });
    b.notify(port);
    expect(await atA.next()).toEqual({ value: port, done: false });
    a.close();
    b.close();
  });

  it('keeps a port masked after reporting it and reports again after unmask', async () => {
    const { a, b } = pair();
    const port = b.bindUnboundPort(1);
    expect(port).toBe(100);
    a.bindInterdomain(2, port);
    const heard: number[] = [];
    let wake = () => {};
    b.on('pending', (p) => {
      heard.push(p);
      wake();
    });
    const next = () =>
      new Promise<void>((resolve) => {
        wake = resolve;
      });
    let arrived = next();
    a.notify(port);
    await arrived;
    // Two more while masked: they collapse into one report after unmask.
    a.notify(port);
    a.notify(port);
    // A third channel's datagram proves the two above were already received.
    const probe = b.bindInterdomain(2, 150);
    a.bindUnboundPort(2);
    a.bindInterdomain(2, 150);
    arrived = next();
    a.notify(probe);
    await arrived;
    expect(heard).toEqual([port, probe]);
    arrived = next();
    b.unmask(port);
    await arrived;
    expect(heard).toEqual([port, probe, port]);
    a.close();
    b.close();
  });

  it('reports a port once however often it fired before being read, as a pending bit', async () => {
    const { a, b, bPath } = pair();
    const first = b.bindInterdomain(1, 120);
    const second = b.bindInterdomain(1, 130);
    const heard: number[] = [];
    let wake = () => {};
    // Unmasking at once, as the ring transport does: each report is a fresh one.
    b.on('pending', (port) => {
      heard.push(port);
      b.unmask(port);
      wake();
    });
    // Let the watch start, then queue a burst before the event loop can look.
    await new Promise((resolve) => setImmediate(resolve));
    const sender = loadNative().unixDgramBind(`${bPath}.sender`);
    for (const port of [second, first, second, first, first, second, first]) {
      loadNative().unixDgramSendPort(sender, bPath, port);
    }
    await new Promise<void>((resolve) => {
      wake = () => heard.length >= 2 && resolve();
    });
    // A later notification is reported again.
    const again = new Promise<void>((resolve) => {
      wake = resolve;
    });
    loadNative().unixDgramSendPort(sender, bPath, first);
    await again;
    expect(heard).toEqual([second, first, first]);
    loadNative().closeFd(sender);
    a.close();
    b.close();
  });

  it.skipIf(!pythonReady)('counts and drops datagrams that are not one port', async () => {
    const { a, b, bPath } = pair();
    const port = b.bindInterdomain(1, 140);
    const pending = b.pending();
    await new Promise((resolve) => setImmediate(resolve));
    // Three wrong sizes around a good one, all queued while this thread waits for the sender.
    const sender = [
      'import socket, struct, sys',
      's = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)',
      'for data in (b"xy", b"12345678", struct.pack("<I", int(sys.argv[2])), b""):',
      '    s.sendto(data, sys.argv[1])',
    ].join('\n');
    execFileSync('python3', ['-c', sender, bPath, String(port)]);
    expect(await pending.next()).toEqual({ value: port, done: false });
    expect(b.malformedDatagrams).toBe(3);
    a.close();
    b.close();
  });

  it('maps ports through a custom port map', async () => {
    const n = counter++;
    const aPath = join(dir, `m${n}a.sock`);
    const bPath = join(dir, `m${n}b.sock`);
    // a numbers its ports 1000 below the wire numbers; b uses the wire numbers as they are.
    const shifted = { toWire: (p: number) => p + 1000, fromWire: (w: number) => w - 1000 };
    const a = SocketEventChannel.open({ localPath: aPath, peerPath: bPath, portMap: shifted });
    const b = SocketEventChannel.open({ localPath: bPath, peerPath: aPath });
    a.bindInterdomain(2, 5);
    b.bindInterdomain(1, 1005);
    const atA = a.pending();
    const atB = b.pending();
    a.notify(5);
    expect(await atB.next()).toEqual({ value: 1005, done: false });
    b.notify(1005);
    expect(await atA.next()).toEqual({ value: 5, done: false });
    a.close();
    b.close();
  });

  it('rejects misuse with errno codes', () => {
    const { a, aPath } = pair();
    const port = a.bindUnboundPort(3);
    expect(code(() => a.notify(port + 1))).toBe('ENOTCONN');
    expect(code(() => a.unmask(77))).toBe('ENOTCONN');
    expect(code(() => a.bindInterdomain(3, port))).toBe('EBUSY');
    expect(code(() => a.bindInterdomain(3, 0))).toBe('EINVAL');
    expect(code(() => a.bindVirq(Virq.DOM_EXC))).toBe('EINVAL');
    expect(code(() => a.bindUnboundPort(0x8000))).toBe('EINVAL');
    a.restrict(3);
    expect(code(() => a.bindUnboundPort(3))).toBe('EACCES');
    expect(code(() => a.bindInterdomain(4, 9))).toBe('EACCES');
    expect(a.bindInterdomain(3, 9)).toBe(9);
    a.unbind(port);
    expect(code(() => a.unbind(port))).toBe('ENOTCONN');
    // Nobody listens on the peer path: the kick is lost, not an error.
    a.notify(9);
    a.close();
    expect(code(() => a.notify(9))).toBe('EBADF');
    expect(code(() => a.close())).toBe('EBADF');
    writeFileSync(aPath, 'not a socket');
    expect(code(() => SocketEventChannel.open({ localPath: aPath, peerPath: aPath }))).toBe(
      'EADDRINUSE',
    );
    expect(
      code(() =>
        SocketEventChannel.open({ localPath: join(dir, 'x'.repeat(120)), peerPath: aPath }),
      ),
    ).toBe('ENAMETOOLONG');
  });

  it('binds virqs at the configured ports', async () => {
    const n = counter++;
    const aPath = join(dir, `v${n}a.sock`);
    const bPath = join(dir, `v${n}b.sock`);
    const a = SocketEventChannel.open({
      localPath: aPath,
      peerPath: bPath,
      virqPorts: { 3: 4095 },
    });
    expect(a.bindVirq(Virq.DOM_EXC)).toBe(4095);
    expect(code(() => a.bindVirq(Virq.DOM_EXC))).toBe('EEXIST');
    expect(code(() => a.notify(4095))).toBe('EINVAL');
    const sender = loadNative().unixDgramBind(bPath);
    const pending = a.pending();
    loadNative().unixDgramSendPort(sender, aPath, 4095);
    expect(await pending.next()).toEqual({ value: 4095, done: false });
    loadNative().closeFd(sender);
    a.close();
  });

  it('survives a worker being terminated while it watches a socket', () => {
    const script = fileURLToPath(
      new URL('./support/terminate-watching-worker.mjs', import.meta.url),
    );
    const socketDir = mkdtempSync(join(dir, 'terminate-'));
    const output = execFileSync(process.execPath, [script, nativeAddonPath(), socketDir], {
      encoding: 'utf8',
    });
    expect(output.trim()).toBe('ok');
  });
});
