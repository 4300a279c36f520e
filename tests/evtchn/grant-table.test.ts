import { describe, expect, it } from 'vitest';
import {
  FIRST_FREE_GRANT_REF,
  GNTTAB_RESERVED_CONSOLE,
  SimulatedHypervisor,
} from '../../src/evtchn/index.ts';
import { XEN_PAGE_SIZE } from '../../src/ring/index.ts';
import { code } from './support/error-code.ts';

describe('SimulatedGrantTable', () => {
  it('maps a grant onto the same memory', () => {
    const hv = SimulatedHypervisor.create({ grantsPerDomain: 16 });
    const front = hv.createDomain();
    const back = hv.createDomain();
    const grant = hv.grants.grantAccess(front, back);
    expect(grant.ref).toBe(FIRST_FREE_GRANT_REF);
    expect(grant.page.byteLength).toBe(XEN_PAGE_SIZE);
    grant.page[100] = 42;
    const mapped = hv.grants.map(back, front, grant.ref);
    expect(mapped[100]).toBe(42);
    mapped[5] = 7;
    expect(grant.page[5]).toBe(7);
    // The mapping is the same memory in another thread too: it lives in the shared buffer.
    expect(mapped.buffer).toBe(hv.buffer);
  });

  it('enforces grantee, read-only and busy rules', () => {
    const hv = SimulatedHypervisor.create({ grantsPerDomain: 10 });
    const front = hv.createDomain();
    const back = hv.createDomain();
    const other = hv.createDomain();
    const ro = hv.grants.grantAccess(front, back, { readonly: true });
    expect(code(() => hv.grants.map(other, front, ro.ref, { readonly: true }))).toBe('EPERM');
    expect(code(() => hv.grants.map(back, front, ro.ref))).toBe('EPERM');
    hv.grants.map(back, front, ro.ref, { readonly: true });
    expect(code(() => hv.grants.endAccess(front, ro.ref))).toBe('EBUSY');
    hv.grants.unmap(back, front, ro.ref);
    expect(code(() => hv.grants.unmap(back, front, ro.ref))).toBe('EINVAL');
    hv.grants.endAccess(front, ro.ref);
    expect(code(() => hv.grants.endAccess(front, ro.ref))).toBe('EINVAL');
    expect(code(() => hv.grants.map(back, front, 3))).toBe('EINVAL');
    expect(code(() => hv.grants.map(back, 99, 8))).toBe('ESRCH');
    expect(code(() => hv.grants.grantAccess(front, 0x7ff5))).toBe('EINVAL');
    hv.grants.grantAccess(front, back);
    hv.grants.grantAccess(front, back);
    expect(code(() => hv.grants.grantAccess(front, back))).toBe('ENOSPC');
  });

  it('hands out zeroed pages and forgets the grants of a destroyed domain', () => {
    const hv = SimulatedHypervisor.create({ grantsPerDomain: 9 });
    const front = hv.createDomain();
    const back = hv.createDomain();
    const first = hv.grants.grantAccess(front, back);
    first.page.fill(0xff);
    hv.grants.endAccess(front, first.ref);
    const second = hv.grants.grantAccess(front, back);
    expect(second.ref).toBe(first.ref);
    expect(second.page.every((byte) => byte === 0)).toBe(true);
    hv.destroyDomain(front);
    expect(code(() => hv.grants.map(back, front, second.ref))).toBe('ESRCH');
  });

  it("seeds a reserved entry the way the toolstack grants a guest's console page", () => {
    const hv = SimulatedHypervisor.create({ grantsPerDomain: 9 });
    const guest = hv.createDomain();
    const console = hv.grants.seed(guest, GNTTAB_RESERVED_CONSOLE, 0);
    expect(console.ref).toBe(0);
    console.page[3] = 0x41;
    expect(hv.grants.map(0, guest, GNTTAB_RESERVED_CONSOLE)[3]).toBe(0x41);
    expect(code(() => hv.grants.seed(guest, GNTTAB_RESERVED_CONSOLE, 0))).toBe('EEXIST');
    expect(code(() => hv.grants.seed(guest, FIRST_FREE_GRANT_REF, 0))).toBe('EINVAL');
    // Allocation never hands out a reserved entry.
    expect(hv.grants.grantAccess(guest, 0).ref).toBe(FIRST_FREE_GRANT_REF);
  });

  it('ends a mapped grant with its last mapping when the end is deferred', () => {
    const hv = SimulatedHypervisor.create({ grantsPerDomain: 10 });
    const front = hv.createDomain();
    const back = hv.createDomain();
    const grant = hv.grants.grantAccess(front, back);
    const view = hv.grants.map(back, front, grant.ref);
    hv.grants.map(back, front, grant.ref);
    hv.grants.endAccess(front, grant.ref, { deferred: true });
    // The mappings stay valid; no new one may be made; a second end is refused.
    view[1] = 9;
    expect(grant.page[1]).toBe(9);
    expect(code(() => hv.grants.map(back, front, grant.ref))).toBe('EPERM');
    expect(code(() => hv.grants.endAccess(front, grant.ref, { deferred: true }))).toBe('EINVAL');
    hv.grants.unmap(back, front, grant.ref);
    // Still one mapping: the entry is not free yet.
    expect(hv.grants.grantAccess(front, back).ref).toBe(grant.ref + 1);
    hv.grants.unmap(back, front, grant.ref);
    expect(hv.grants.grantAccess(front, back).ref).toBe(grant.ref);
  });

  it('grants a run of consecutive references, contiguous in memory, past holes', () => {
    const hv = SimulatedHypervisor.create({ grantsPerDomain: 16 });
    const front = hv.createDomain();
    const back = hv.createDomain();
    const [a, b, c] = [0, 1, 2].map(() => hv.grants.grantAccess(front, back));
    hv.grants.endAccess(front, b!.ref); // a one-page hole between a and c
    const run = hv.grants.grantRange(front, back, 3);
    expect(run.map((grant) => grant.ref)).toEqual([c!.ref + 1, c!.ref + 2, c!.ref + 3]);
    expect(run[1]!.page.byteOffset).toBe(run[0]!.page.byteOffset + XEN_PAGE_SIZE);
    expect(hv.grants.grantAccess(front, back).ref).toBe(b!.ref);
    expect(a!.ref).toBe(FIRST_FREE_GRANT_REF);
    expect(code(() => hv.grants.grantRange(front, back, 3))).toBe('ENOSPC');
    expect(code(() => hv.grants.grantRange(front, back, 0))).toBe('EINVAL');
  });
});
