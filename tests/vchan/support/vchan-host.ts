import { once } from 'node:events';
import type { Duplex } from 'node:stream';
import type { SimulatedEventChannel, SimulatedHypervisor } from '../../../src/evtchn/index.ts';
import { createSimulatedHost, type SimulatedHost } from '../../../src/host/index.ts';
import {
  openVchanClient,
  openVchanServer,
  type VchanDuplex,
  vchanPath,
} from '../../../src/vchan/index.ts';
import { type DevicePlatform, simulatedPlatform } from '../../../src/xenbus/index.ts';
import type { XenstoreClient } from '../../../src/xenstore/index.ts';

/** A simulated host with two guests and room for the largest rings (2 × 256 data pages). */
export interface VchanHost {
  readonly host: SimulatedHost;
  readonly hv: SimulatedHypervisor;
  /** A fresh platform (an end's "process") of `domid`; closed by {@link close} if still open. */
  platformOf(domid: number): DevicePlatform;
  /** `domid`'s xenstore client: dom0's in-process one, or a guest's over its ring. */
  clientOf(domid: number): XenstoreClient;
  close(): Promise<void>;
}

export async function vchanHost(): Promise<VchanHost> {
  const host = await createSimulatedHost({
    guests: 2,
    hypervisor: { maxDomains: 4, grantsPerDomain: 530 },
  });
  const platforms: DevicePlatform[] = [];
  return {
    host,
    hv: host.hypervisor,
    platformOf(domid) {
      const platform = simulatedPlatform(host.hypervisor, domid);
      platforms.push(platform);
      return platform;
    },
    clientOf: (domid) => (domid === 0 ? host.dom0Client : host.guest(domid).client),
    async close() {
      for (const platform of platforms) {
        if (!platform.eventChannel.closed) platform.close();
      }
      await host.close();
    },
  };
}

/** How a test's pair is laid out: where each end runs, the vchan's port, sizes, stream options. */
export interface PairOptions {
  readonly serverDomid: number;
  readonly clientDomid: number;
  readonly port: number;
  readonly leftMin?: number;
  readonly rightMin?: number;
  readonly stream?: { readonly allowHalfOpen?: boolean; readonly readableHighWaterMark?: number };
}

/** A server and its client, each with a platform of its own; resolves once the client is in. */
export async function openPair(env: VchanHost, options: PairOptions) {
  const { serverDomid, clientDomid, leftMin, rightMin, stream } = options;
  const path = vchanPath(serverDomid, clientDomid, options.port);
  const serverPlatform = env.platformOf(serverDomid);
  const clientPlatform = env.platformOf(clientDomid);
  const server = await openVchanServer({
    client: env.clientOf(serverDomid),
    platform: serverPlatform,
    peerDomid: clientDomid,
    path,
    leftMin,
    rightMin,
    stream,
  });
  const connected = once(server, 'connect');
  const client = await openVchanClient({
    client: env.clientOf(clientDomid),
    platform: clientPlatform,
    peerDomid: serverDomid,
    path,
  });
  await connected;
  return { path, server, client, serverPlatform, clientPlatform };
}

/** The state of `port` of `domid` (`closed` once an end has unbound it). */
export function portState(hv: SimulatedHypervisor, domid: number, port: number): string {
  return hv.status(domid, port).state;
}

/** Ports of a platform that fired and are waiting. */
export const firedPorts = (platform: DevicePlatform): number[] =>
  (platform.eventChannel as SimulatedEventChannel).takePending();

/**
 * Writes `chunks` (waiting for 'drain' when told to) while collecting what arrives, until
 * `expected` bytes have; the stream is left open (libxenvchan has no half-close).
 */
export async function exchange(
  stream: Duplex,
  chunks: readonly Uint8Array[],
  expected: number,
): Promise<Buffer> {
  const received: Buffer[] = [];
  let got = 0;
  const arrived = new Promise<void>((resolve, reject) => {
    if (expected === 0) resolve();
    stream.on('data', (chunk: Buffer) => {
      received.push(chunk);
      got += chunk.length;
      if (got >= expected) resolve();
    });
    stream.once('error', reject);
  });
  for (const chunk of chunks) {
    if (!stream.write(chunk)) await once(stream, 'drain');
  }
  await arrived;
  return Buffer.concat(received);
}

/** Resolves when the stream has closed, with the error it was destroyed with, if any. */
export function closed(stream: VchanDuplex): Promise<Error | undefined> {
  return new Promise((resolve) => {
    let failure: Error | undefined;
    stream.on('error', (error) => {
      failure = error;
    });
    stream.once('close', () => resolve(failure));
  });
}
