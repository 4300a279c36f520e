import { describe, expect, it } from 'vitest';
import { MessageType } from '../../src/xenstore/messages.ts';
import { XenstoreServer } from '../../src/xenstore/server.ts';
import type { ServedDomain } from '../../src/xenstore/transport/transport.ts';
import { Recorder, renderReply, scriptPayload } from './script.ts';

describe('domain bookkeeping', () => {
  it('tells listeners about introductions and releases (the ring server hook)', () => {
    const server = new XenstoreServer();
    const seen: string[] = [];
    server.domains.onIntroduce((d: ServedDomain) => seen.push(`in ${d.domid} ${d.gfn} ${d.port}`));
    const stop = server.domains.onRelease((d: ServedDomain) => seen.push(`out ${d.domid}`));
    const dom0 = new Recorder(server, 0);
    dom0.request(
      MessageType.INTRODUCE,
      scriptPayload('introduce', ['3', '12345678901234567890', '9']),
    );
    dom0.request(MessageType.RELEASE, scriptPayload('release', ['3']));
    stop();
    server.introduceDomain(4, 1, 2);
    server.releaseDomain(4);
    expect(seen).toEqual(['in 3 12345678901234567890 9', 'out 3', 'in 4 1 2']);
  });

  it('a second INTRODUCE re-binds and resets the guest connection: watches and transactions go', () => {
    const server = new XenstoreServer();
    const dom0 = new Recorder(server, 0);
    dom0.request(MessageType.INTRODUCE, scriptPayload('introduce', ['5', '1', '7']));
    const guest = new Recorder(server, 5);
    guest.request(MessageType.WATCH, scriptPayload('watch', ['@releaseDomain', 't']));
    guest.request(MessageType.TRANSACTION_START, scriptPayload('start', []));
    guest.events();
    expect(
      renderReply(dom0.request(MessageType.INTRODUCE, scriptPayload('introduce', ['5', '1', '8']))),
    ).toBe('OK');
    expect(
      renderReply(guest.request(MessageType.TRANSACTION_END, scriptPayload('commit', []), 1)),
    ).toBe('ENOENT');
    expect(
      renderReply(
        guest.request(MessageType.UNWATCH, scriptPayload('unwatch', ['@releaseDomain', 't'])),
      ),
    ).toBe('ENOENT');
    expect(server.domains.get(5)?.port).toBe(8);
  });

  it('shutdown fires @releaseDomain once until RESUME; RELEASE closes the guest connections', () => {
    const server = new XenstoreServer();
    const dom0 = new Recorder(server, 0);
    dom0.request(MessageType.WATCH, scriptPayload('watch', ['@releaseDomain', 'r']));
    dom0.request(MessageType.INTRODUCE, scriptPayload('introduce', ['5', '1', '7']));
    const guest = new Recorder(server, 5);
    dom0.events();
    server.shutdownDomain(5);
    server.shutdownDomain(5);
    expect(dom0.events()).toEqual(['@releaseDomain r']);
    dom0.request(MessageType.RESUME, scriptPayload('resume', ['5']));
    server.shutdownDomain(5);
    expect(dom0.events()).toEqual(['@releaseDomain r']);
    dom0.request(MessageType.RELEASE, scriptPayload('release', ['5']));
    expect(dom0.events()).toEqual(['@releaseDomain r']);
    expect(guest.closedWith).toBeUndefined();
    expect(() => server.shutdownDomain(5)).toThrow(/not introduced/);
  });
});

describe('permission entries and domain lifetimes', () => {
  const read = (r: Recorder, path: string) =>
    renderReply(r.request(MessageType.READ, scriptPayload('read', [path])));

  it('an entry naming a domain that does not exist yet stays void once it appears', () => {
    const server = new XenstoreServer();
    const dom0 = new Recorder(server, 0);
    dom0.request(MessageType.WRITE, scriptPayload('write', ['/n', 'v']));
    dom0.request(MessageType.SET_PERMS, scriptPayload('setperms', ['/n', 'n0', 'r9']));
    expect(renderReply(dom0.request(MessageType.GET_PERMS, scriptPayload('perms', ['/n'])))).toBe(
      'n0,r9',
    );
    dom0.request(MessageType.INTRODUCE, scriptPayload('introduce', ['9', '1', '3']));
    const guest = new Recorder(server, 9);
    expect(read(guest, '/n')).toBe('EACCES');
    dom0.request(MessageType.WRITE, scriptPayload('write', ['/n', 'v2']));
    expect(read(guest, '/n')).toBe('EACCES');
  });

  it('a released domain reusing its domid does not inherit old entries', () => {
    const server = new XenstoreServer();
    const dom0 = new Recorder(server, 0);
    dom0.request(MessageType.INTRODUCE, scriptPayload('introduce', ['5', '1', '3']));
    dom0.request(MessageType.WRITE, scriptPayload('write', ['/n', 'v']));
    dom0.request(MessageType.SET_PERMS, scriptPayload('setperms', ['/n', 'n0', 'r5']));
    expect(read(new Recorder(server, 5), '/n')).toBe('v');
    dom0.request(MessageType.RELEASE, scriptPayload('release', ['5']));
    dom0.request(MessageType.INTRODUCE, scriptPayload('introduce', ['5', '1', '3']));
    expect(read(new Recorder(server, 5), '/n')).toBe('EACCES');
  });

  // Five's entries on /n (read), /p (none, others read) and @releaseDomain (read), set while
  // domain 5 lived, then domain 5 released and introduced again.
  function reintroduced() {
    const server = new XenstoreServer();
    const dom0 = new Recorder(server, 0);
    const send = (op: string, ...args: string[]) =>
      renderReply(dom0.request(opType[op]!, scriptPayload(op, args)));
    send('introduce', '5', '1', '3');
    send('write', '/n', 'v');
    send('setperms', '/n', 'n0', 'r5');
    send('write', '/p', '');
    send('setperms', '/p', 'r0', 'n5');
    send('setperms', '@releaseDomain', 'n0', 'r5');
    send('release', '5');
    send('introduce', '5', '1', '3');
    return { server, send, guest: new Recorder(server, 5) };
  }
  const opType: Record<string, number> = {
    introduce: MessageType.INTRODUCE,
    release: MessageType.RELEASE,
    write: MessageType.WRITE,
    setperms: MessageType.SET_PERMS,
    rm: MessageType.RM,
    watch: MessageType.WATCH,
  };

  it('entries that lapsed with their domain stay void once the node is written again', () => {
    const { send, guest } = reintroduced();
    expect(send('write', '/n', 'new')).toBe('OK');
    expect(read(guest, '/n')).toBe('EACCES');
    expect(send('setperms', '/n', 'n0', 'r5')).toBe('OK');
    expect(read(guest, '/n')).toBe('new');
  });

  it('a node created under lapsed entries inherits them void', () => {
    const { send, guest } = reintroduced();
    guest.request(MessageType.WATCH, scriptPayload('watch', ['/p/c', 'w']));
    guest.events();
    expect(send('write', '/p/c', '')).toBe('OK');
    expect(read(guest, '/p/c')).toBe('');
    expect(guest.events()).toEqual(['/p/c w']);
  });

  it('removals and @releaseDomain judge lapsed entries void', () => {
    const { server, send, guest } = reintroduced();
    guest.request(MessageType.WATCH, scriptPayload('watch', ['/n', 'w']));
    guest.request(MessageType.WATCH, scriptPayload('watch', ['@releaseDomain', 'r']));
    guest.events();
    expect(send('rm', '/n')).toBe('OK');
    send('introduce', '6', '1', '4');
    server.releaseDomain(6);
    expect(guest.events()).toEqual([]);
  });
});

describe('RELEASE ordering', () => {
  it('defers the destruction past the reply when the domain ring follows the releaser, as C does', () => {
    const server = new XenstoreServer();
    const older = new Recorder(server, 0);
    older.request(MessageType.WATCH, scriptPayload('watch', ['@releaseDomain', 'r']));
    older.request(MessageType.INTRODUCE, scriptPayload('introduce', ['7', '1', '3']));
    older.events();
    const before = older.received.length;
    older.request(MessageType.RELEASE, scriptPayload('release', ['7']));
    expect(older.received.slice(before).map(renderReply)).toEqual(['OK', '@releaseDomain\0r']);

    older.request(MessageType.INTRODUCE, scriptPayload('introduce', ['8', '1', '4']));
    const newer = new Recorder(server, 0);
    newer.request(MessageType.WATCH, scriptPayload('watch', ['@releaseDomain', 'n']));
    newer.events();
    const at = newer.received.length;
    newer.request(MessageType.RELEASE, scriptPayload('release', ['8']));
    expect(newer.received.slice(at).map(renderReply)).toEqual(['@releaseDomain\0n', 'OK']);
  });
});
