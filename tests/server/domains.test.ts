import { describe, expect, it } from 'vitest';
import { MessageType } from '../../src/xenstore/constants.ts';
import { type Domain, XenstoreServer } from '../../src/xenstore/server/index.ts';
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
