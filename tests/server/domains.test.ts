import { describe, expect, it } from 'vitest';
import { MessageType } from '../../src/xenstore/messages.ts';
import type { Domain } from '../../src/xenstore/server/domains.ts';
import { XenstoreServer } from '../../src/xenstore/server.ts';
import { Recorder, renderReply, scriptPayload } from './script.ts';

describe('domain bookkeeping', () => {
  it('tells listeners about introductions and releases (the ring server hook)', () => {
    const server = new XenstoreServer();
    const seen: string[] = [];
    server.domains.onIntroduce((d: Domain) => seen.push(`in ${d.domid} ${d.gfn} ${d.port}`));
    const stop = server.domains.onRelease((d: Domain) => seen.push(`out ${d.domid}`));
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
