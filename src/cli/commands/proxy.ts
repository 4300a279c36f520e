import { createWriteStream, rmSync, type WriteStream } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { createConnection, createServer, type Server, type Socket } from 'node:net';
import { FaultInjector } from '../../xenstore/faults/injector.ts';
import { type FaultPlan, FaultSpecError, faultPlanOf } from '../../xenstore/faults/plan.ts';
import { MessageFramer } from '../../xenstore/framer.ts';
import { encodeMessage, type Message } from '../../xenstore/wire.ts';
import type { Command } from '../command.ts';
import { FAULT_OPTIONS, FAULT_USAGE, faultSpecOf } from '../fault-options.ts';
import { type CliIo, Diagnostics, type OutputStream, USAGE_ERROR, wantsJson } from '../io.ts';
import { errorCode } from '../target.ts';
import { parseToolArgs } from '../tool-args.ts';
import {
  type ByteCounts,
  type Direction,
  decodeFields,
  formatLogLine,
  parseTrace,
  type TraceRecord,
} from '../trace.ts';

const options = {
  listen: { type: 'string' },
  to: { type: 'string' },
  trace: { type: 'string' },
  log: { type: 'string' },
  quiet: { type: 'boolean', short: 'q' },
  'faults-from': { type: 'string' },
  help: { type: 'boolean', short: 'h' },
  ...FAULT_OPTIONS,
} as const;

const usage = `Usage: xenwire proxy --listen PATH --to PATH [--trace FILE.jsonl] [--log FILE] [--quiet]
       [faults... | --faults-from TRACE.jsonl]

Accepts clients on the unix socket --listen and connects each to the xenstored socket --to,
forwarding every byte unchanged both ways. Every message is decoded and written as a JSON line
to --trace and as a readable line to --log (default stderr; --quiet: none). Bytes that cannot be
framed are forwarded all the same and logged. Runs until interrupted.

With faults, messages are forwarded one by one and faults applied to them. The trace starts with
the faults and their seed and records every fault applied, so that the same client run meets the
same faults again (--faults-from an earlier trace), and \`xenwire replay\` replays the run.
${FAULT_USAGE}`;

/** Where records go: the JSON-lines trace and the readable log, each optional. */
class Recorder {
  #seq = 0;

  constructor(
    private readonly trace: WriteStream | undefined,
    private readonly log: OutputStream | undefined,
  ) {}

  /** Writes one record; returns its sequence number. */
  record(fields: Record<string, unknown> & { kind: TraceRecord['kind']; conn: number }): number {
    const record = { seq: ++this.#seq, time: new Date().toISOString(), ...fields } as TraceRecord;
    this.trace?.write(`${JSON.stringify(record)}\n`);
    this.log?.write(`${formatLogLine(record)}\n`);
    return record.seq;
  }
}

/** Where a faulty proxy sends what it decoded: whole messages, and bytes it could not frame. */
interface Forward {
  message(message: Message, seq: number): void;
  raw(bytes: Buffer): void;
}

/**
 * Decodes one direction of a connection from copies of the forwarded chunks. The framer takes at
 * most one message at a time, so that the messages of a chunk that precede a framing error are
 * still recorded. After such an error it stops decoding (the stream can no longer be trusted to
 * be in step) and records the rest, from the bad header on, as raw bytes. With `forward`, the
 * messages and raw bytes are also handed on, in order.
 */
function directionDecoder(
  recorder: Recorder,
  conn: number,
  dir: Direction,
  forward?: Forward,
): (chunk: Buffer) => void {
  const framer = new MessageFramer();
  let failed = false;
  const raw = (bytes: Buffer) => {
    if (bytes.length === 0) return;
    recorder.record({ kind: 'raw', conn, dir, bytes: bytes.toString('base64') });
    forward?.raw(bytes);
  };
  const record = (message: Message) => {
    const seq = recorder.record({
      kind: 'message',
      conn,
      dir,
      typeNumber: message.type,
      reqId: message.reqId,
      txId: message.txId,
      payload: Buffer.from(message.payload).toString('base64'),
      ...decodeFields(message, dir),
    });
    forward?.message(message, seq);
  };
  // The start of a header that is still in pieces, from earlier chunks.
  let held = Buffer.alloc(0);
  return (chunk) => {
    if (failed) return raw(chunk);
    let start = 0;
    for (let at = 0; at < chunk.length; ) {
      const piece = chunk.subarray(at, at + framer.wanted);
      let messages: Message[];
      try {
        messages = framer.push(piece);
      } catch (error) {
        recorder.record({
          kind: 'error',
          conn,
          dir,
          error: `framing: ${(error as Error).message}`,
        });
        raw(Buffer.concat([held, chunk.subarray(start)]));
        failed = true;
        return;
      }
      at += piece.length;
      for (const message of messages) record(message);
      if (framer.buffered === 0) {
        held = Buffer.alloc(0);
        start = at;
      }
    }
    if (framer.header === undefined && framer.buffered > 0) {
      held = Buffer.concat([held, chunk.subarray(start)]);
    }
  };
}

/** A proxied connection: `done` settles once both sides are closed and the close recorded. */
interface ProxiedConnection {
  readonly done: Promise<void>;
  destroy(): void;
}

function proxyConnection(
  client: Socket,
  target: string,
  conn: number,
  recorder: Recorder,
  faults: FaultPlan | undefined,
): ProxiedConnection {
  const server = createConnection(target);
  const counts = { fromClient: 0, toServer: 0, fromServer: 0, toClient: 0 };
  recorder.record({ kind: 'open', conn });
  const injector = faults && faultyForwarding(client, server, conn, recorder, faults);
  const fromClient = directionDecoder(recorder, conn, 'client-to-server', injector?.fromClient);
  const fromServer = directionDecoder(recorder, conn, 'server-to-client', injector?.fromServer);
  client.on('data', (chunk: Buffer) => {
    counts.fromClient += chunk.length;
    fromClient(chunk);
  });
  server.on('data', (chunk: Buffer) => {
    counts.fromServer += chunk.length;
    fromServer(chunk);
  });
  if (!injector) {
    // pipe() keeps the bytes exactly as they came and applies back-pressure both ways.
    client.pipe(server);
    server.pipe(client);
  }
  let closed = 0;
  let settle: () => void = () => {};
  const done = new Promise<void>((resolve) => {
    settle = resolve;
  });
  const onClose = () => {
    if (++closed < 2) return;
    const bytes: ByteCounts = {
      ...counts,
      toServer: server.bytesWritten,
      toClient: client.bytesWritten,
    };
    recorder.record({ kind: 'close', conn, bytes });
    settle();
  };
  const fail = (side: string) => (error: Error) => {
    recorder.record({ kind: 'error', conn, error: `${side}: ${error.message}` });
    client.destroy();
    server.destroy();
  };
  client.on('error', fail('client'));
  server.on('error', fail('server'));
  client.on('close', () => {
    injector?.detach();
    server.end();
    onClose();
  });
  server.on('close', () => {
    injector?.detach();
    client.end();
    onClose();
  });
  return {
    done,
    destroy: () => {
      client.destroy();
      server.destroy();
    },
  };
}

/**
 * Forwarding message by message through a {@link FaultInjector}. Faults on requests name the
 * trace record of the request (`message`), so that a replay knows what reached the server.
 */
function faultyForwarding(
  client: Socket,
  server: Socket,
  conn: number,
  recorder: Recorder,
  plan: FaultPlan,
) {
  let request = 0;
  const injector = new FaultInjector(plan, conn, {
    toServer: (message) => server.write(encodeMessage(message)),
    toClient: (message) => client.write(encodeMessage(message)),
    toClientBytes: (bytes) => client.write(bytes),
    close: () => {
      client.destroy();
      server.destroy();
    },
    record: (fault) =>
      recorder.record({
        kind: 'fault',
        conn,
        ...(fault.dir === 'client-to-server' && { message: request }),
        ...fault,
      }),
  });
  return {
    fromClient: {
      message: (message: Message, seq: number) => {
        request = seq;
        injector.fromClient(message);
      },
      raw: (bytes: Buffer) => server.write(bytes),
    },
    fromServer: {
      message: (message: Message) => injector.fromServer(message),
      raw: (bytes: Buffer) => client.write(bytes),
    },
    detach: () => injector.detach(),
  };
}

function listenOn(server: Server, path: string): Promise<void> {
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(path, () => {
      server.off('error', reject);
      resolve();
    });
  });
}

/** `xenwire proxy`: a transparent, recording proxy in front of a xenstored. */
async function runProxy(args: readonly string[], io: CliIo): Promise<number> {
  const diag = new Diagnostics(io, 'xenwire proxy', wantsJson(args));
  const { values } = parseToolArgs(args, options, usage, io, diag);
  if (!values.listen || !values.to)
    return diag.errx(`--listen and --to are required\n${usage}`, USAGE_ERROR, 2);
  let faults: FaultPlan | undefined;
  try {
    faults = await chooseFaults(values);
  } catch (error) {
    if (error instanceof FaultSpecError) return diag.errx(error.message, USAGE_ERROR, 2);
    if (isSystemError(error)) {
      const path = values['faults-from'];
      return diag.errx((error as Error).message, { code: errorCode(error), path }, 2);
    }
    throw error;
  }
  const trace = values.trace ? createWriteStream(values.trace, { flags: 'a' }) : undefined;
  const logFile = values.log ? createWriteStream(values.log, { flags: 'a' }) : undefined;
  const recorder = new Recorder(trace, values.quiet ? undefined : (logFile ?? io.stderr));
  if (faults) recorder.record({ kind: 'faults', conn: 0, plan: faults });
  const connections = new Set<ProxiedConnection>();
  let conn = 0;
  const server = createServer((client) => {
    const proxied = proxyConnection(client, values.to!, ++conn, recorder, faults);
    connections.add(proxied);
    void proxied.done.then(() => connections.delete(proxied));
  });
  try {
    await listenOn(server, values.listen);
  } catch (error) {
    return diag.errx(`cannot listen on ${values.listen}: ${(error as Error).message}`, {
      code: errorCode(error),
      path: values.listen,
    });
  }
  io.stdout.write(`proxy listening on ${values.listen}, forwarding to ${values.to}\n`);
  if (faults) io.stdout.write(`faults seeded with ${faults.seed}\n`);
  await new Promise<void>((resolve) => {
    if (io.signal?.aborted) resolve();
    io.signal?.addEventListener('abort', () => resolve(), { once: true });
  });
  const closed = new Promise((resolve) => server.close(resolve));
  const open = [...connections];
  for (const proxied of open) proxied.destroy();
  await Promise.all([closed, ...open.map((proxied) => proxied.done)]);
  rmSync(values.listen, { force: true });
  await Promise.all(
    [trace, logFile].map((stream) => stream && new Promise((resolve) => stream.end(resolve))),
  );
  return 0;
}

/** The plan of the fault options, or of the trace named by --faults-from (not both). */
async function chooseFaults(
  values: Parameters<typeof faultSpecOf>[0] & { 'faults-from'?: string },
): Promise<FaultPlan | undefined> {
  const spec = faultSpecOf(values);
  const from = values['faults-from'];
  if (from !== undefined) {
    if (spec) throw new FaultSpecError('faults-from', from, 'give fault options or a trace');
    const header = parseTrace(await readFile(from, 'utf8')).find((r) => r.kind === 'faults');
    if (!header) throw new FaultSpecError('faults-from', from, 'the trace records no faults');
    return header.plan;
  }
  if (!spec) return undefined;
  return faultPlanOf(spec);
}

function isSystemError(error: unknown): boolean {
  return typeof (error as NodeJS.ErrnoException)?.syscall === 'string';
}

export const command: Command = { run: runProxy, interruptible: true };
