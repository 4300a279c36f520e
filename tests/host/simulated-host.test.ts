import { afterEach, describe, expect, it } from 'vitest';
import { createSimulatedHost, type SimulatedHost } from '../../src/host/index.ts';

describe('simulated host', () => {
  let host: SimulatedHost | undefined;
  afterEach(async () => {
    await host?.close();
    host = undefined;
  });

  it('serves each guest over its ring with its own identity', async () => {
    host = await createSimulatedHost({ guests: 3 });
    const one = host.guest(1).client;
    await one.write('name', 'guest-one');
    expect(await one.readString('/local/domain/1/name')).toBe('guest-one');
    expect(await host.dom0Client.readString('/local/domain/1/name')).toBe('guest-one');
    // Domain 2 cannot read domain 1's home: permissions follow the ring's domain.
    await expect(host.guest(2).client.read('/local/domain/1/name')).rejects.toMatchObject({
      code: 'EACCES',
    });
    expect(await host.guest(3).client.getDomainPath(3)).toBe('/local/domain/3');
  });
});
