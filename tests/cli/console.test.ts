import { PassThrough } from 'node:stream';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { type ConsoleDeps, type ConsoleInput, runConsole } from '../../src/cli/commands/console.ts';
import { CliExit, type CliIo } from '../../src/cli/io.ts';
import { openConsole } from '../../src/console/index.ts';
import { createSimulatedHost, type SimulatedHost } from '../../src/host/index.ts';
import { simulatedPlatform } from '../../src/xenbus/index.ts';
import { Capture, xenwire } from './run-cli.ts';

let host: SimulatedHost;
beforeEach(async () => {
  host = await createSimulatedHost({ guests: 1 });
  // Guest 1 runs a tiny shell on its console: `echo WORDS` answers WORDS.
  const guest = host.guest(1).console;
  let line = '';
  guest.on('data', (chunk: Buffer) => {
    for (const char of chunk.toString('latin1')) {
      if (char !== '\n' && char !== '\r') {
        line += char;
        continue;
      }
      if (line.startsWith('echo ')) guest.write(`${line.slice(5)}\n`);
      line = '';
    }
  });
  guest.write('@@guest-marker@@\n# ');
});
afterEach(async () => {
  await host.close();
});

/** The command's view of the simulated host: dom0's client and platform. */
function simulated(stdin: ConsoleInput): ConsoleDeps {
  return {
    stdin,
    async attach(domid) {
      const platform = simulatedPlatform(host.hypervisor, 0);
      const console = await openConsole({ client: host.dom0Client, platform, domid });
      return {
        console,
        async close() {
          console.destroy();
          if (!console.closed) await new Promise((resolve) => console.once('close', resolve));
          platform.close();
        },
      };
    },
  };
}

function start(args: string[], stdin: ConsoleInput, tty = false) {
  const stdout = new Capture(tty);
  const stderr = new Capture();
  const controller = new AbortController();
  const io: CliIo = { stdout, stderr, env: process.env, signal: controller.signal };
  // As main() does, a CliExit ends the command with its status.
  const status = runConsole(args, io, simulated(stdin)).catch((error: unknown) => {
    if (error instanceof CliExit) return error.status;
    throw error;
  });
  return { stdout, stderr, status, interrupt: () => controller.abort() };
}

describe('xenwire console on the simulated host', () => {
  it('copies the guest output to stdout and stdin to the guest, until interrupted', async () => {
    const stdin = new PassThrough();
    const run = start(['1'], stdin);
    await run.stdout.waitFor(/@@guest-marker@@/);
    stdin.write('echo hello from dom0\n');
    await run.stdout.waitFor(/hello from dom0\n/);
    stdin.end(); // no more input: output still flows
    host.guest(1).console.write('after the end of input\n');
    await run.stdout.waitFor(/after the end of input/);
    run.interrupt();
    expect(await run.status).toBe(0);
    // Detached: the console is free for the next backend.
    const again = await openConsole({
      client: host.dom0Client,
      platform: simulatedPlatform(host.hypervisor, 0),
      domid: 1,
    });
    again.destroy();
  });

  it('is interactive on a terminal: raw mode, Ctrl-] detaches', async () => {
    const setRawMode = vi.fn();
    const stdin = Object.assign(new PassThrough(), { isTTY: true, setRawMode });
    const run = start(['1'], stdin, true);
    await run.stdout.waitFor(/# $/);
    stdin.write('echo typed\r');
    await run.stdout.waitFor(/typed\n/);
    // What comes before Ctrl-] in the same read still goes to the guest.
    stdin.write(Buffer.from('echo cut\r\x1d', 'latin1'));
    expect(await run.status).toBe(0);
    expect(setRawMode.mock.calls).toEqual([[true], [false]]);
    const again = await openConsole({
      client: host.dom0Client,
      platform: simulatedPlatform(host.hypervisor, 0),
      domid: 1,
    });
    let after = '';
    again.on('data', (chunk: Buffer) => {
      after += chunk;
    });
    await vi.waitFor(() => expect(after).toBe('cut\n'));
    again.destroy();
  });

  it('ends with the domain', async () => {
    const run = start(['1'], new PassThrough());
    await run.stdout.waitFor(/@@guest-marker@@/);
    await host.destroyDomain(1);
    expect(await run.status).toBe(0);
  });

  it('refuses bad arguments and a console already served', async () => {
    for (const args of [[], ['x'], ['0'], ['1', '2']]) {
      const run = start(args, new PassThrough());
      expect(await run.status).toBe(2);
      expect(run.stderr.text).toMatch(/one DOMID/);
    }
    const held = await openConsole({
      client: host.dom0Client,
      platform: simulatedPlatform(host.hypervisor, 0),
      domid: 1,
    });
    const run = start(['1'], new PassThrough());
    expect(await run.status).toBe(1);
    expect(run.stderr.text).toMatch(/xenwire console: EBUSY: the console of domain 1 is served/);
    held.destroy();
  });

  it('is a subcommand of xenwire, which off Xen says why it cannot attach', async () => {
    const result = await xenwire(['console', '1']);
    expect(result.status).toBe(1);
    expect(result.stderr).toMatch(/^xenwire console: cannot connect to xenstored/);
    expect((await xenwire(['--help'])).stdout).toMatch(/^ {2}console +a guest's PV console/m);
    expect((await xenwire(['console', '--help'])).stdout).toMatch(/^Usage: xenwire console DOMID/);
  });
});
