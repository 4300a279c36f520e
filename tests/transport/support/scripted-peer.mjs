// A xenstore peer in a worker thread of its own, so that it answers while the test's thread is
// blocked waiting in place. It listens on workerData.path and answers each request as the next
// plan posted to it says (requests wait for their plan):
//   { events: n, cuts: [offsets], delays: [ms], drop: bool }
// The output for one request is n watch events (for the token of the last WATCH seen, paths
// /event/1 … /event/n), then the reply; it is written in pieces ending at `cuts`, piece i after a
// pause of delays[i] ms. A READ of P is answered with the value `value of P`, anything else with
// OK. `drop` answers nothing. Posts { listening: true } once it listens.
import { createServer } from 'node:net';
import { parentPort, workerData } from 'node:worker_threads';

const HEADER = 16;
const READ = 2;
const WATCH = 4;
const WATCH_EVENT = 15;

const plans = [];
const waiting = [];
parentPort.on('message', (plan) => {
  const next = waiting.shift();
  if (next) next(plan);
  else plans.push(plan);
});
const nextPlan = () =>
  plans.length > 0 ? Promise.resolve(plans.shift()) : new Promise((r) => waiting.push(r));

function frame(type, reqId, payload) {
  const out = Buffer.alloc(HEADER + payload.length);
  out.writeUInt32LE(type, 0);
  out.writeUInt32LE(reqId, 4);
  out.writeUInt32LE(0, 8);
  out.writeUInt32LE(payload.length, 12);
  payload.copy(out, HEADER);
  return out;
}

const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

const server = createServer((socket) => {
  let pending = Buffer.alloc(0);
  let token = '';
  let chain = Promise.resolve();
  const answer = async (type, reqId, payload) => {
    const plan = await nextPlan();
    if (plan.drop) return;
    const parts = [];
    for (let i = 1; i <= (plan.events ?? 0); i++) {
      parts.push(frame(WATCH_EVENT, 0, Buffer.from(`/event/${i}\0${token}\0`)));
    }
    const text = payload.subarray(0, payload.indexOf(0)).toString();
    const value = type === READ ? Buffer.from(`value of ${text}`) : Buffer.from('OK\0');
    parts.push(frame(type, reqId, value));
    const out = Buffer.concat(parts);
    const ends = [...(plan.cuts ?? []).filter((at) => at > 0 && at < out.length), out.length];
    let from = 0;
    for (const [i, end] of ends.entries()) {
      const delay = plan.delays?.[i] ?? 0;
      if (delay > 0) await sleep(delay);
      if (socket.destroyed) return;
      socket.write(out.subarray(from, end));
      from = end;
    }
  };
  socket.on('data', (chunk) => {
    pending = Buffer.concat([pending, chunk]);
    while (pending.length >= HEADER && pending.length >= HEADER + pending.readUInt32LE(12)) {
      const type = pending.readUInt32LE(0);
      const reqId = pending.readUInt32LE(4);
      const payload = pending.subarray(HEADER, HEADER + pending.readUInt32LE(12));
      pending = pending.subarray(HEADER + payload.length);
      if (type === WATCH) token = payload.toString().split('\0')[1];
      chain = chain.then(() => answer(type, reqId, Buffer.from(payload)));
    }
  });
  socket.on('error', () => {});
});
server.listen(workerData.path, () => parentPort.postMessage({ listening: true }));
