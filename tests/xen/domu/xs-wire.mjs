// A deliberately small, dependency-free xenstore wire client used by the Xen lane's probes. It
// runs unchanged inside a PV guest's initramfs (plain node, no node_modules) and in Dom0, and speaks
// the protocol through the xenbus device (/dev/xen/xenbus) or a xenstored unix socket. It is an
// independent reference for the library's own client, so it shares no code with src/.
import fs from 'node:fs';
import net from 'node:net';

export const XS = Object.freeze({
  CONTROL: 0,
  DIRECTORY: 1,
  READ: 2,
  GET_PERMS: 3,
  WATCH: 4,
  UNWATCH: 5,
  TRANSACTION_START: 6,
  TRANSACTION_END: 7,
  INTRODUCE: 8,
  RELEASE: 9,
  GET_DOMAIN_PATH: 10,
  WRITE: 11,
  MKDIR: 12,
  RM: 13,
  SET_PERMS: 14,
  WATCH_EVENT: 15,
  ERROR: 16,
});

const HEADER = 16;

/** A xenstored error reply (EACCES, ENOENT, EAGAIN, ...), carried as an errno-style code. */
export class XsError extends Error {
  constructor(code, type, path) {
    super(`xenstore ${code} for request ${type}${path === undefined ? '' : ` on ${path}`}`);
    this.name = 'XsError';
    this.code = code;
  }
}

function frame(type, reqId, txId, payload) {
  const head = Buffer.alloc(HEADER);
  head.writeUInt32LE(type, 0);
  head.writeUInt32LE(reqId, 4);
  head.writeUInt32LE(txId, 8);
  head.writeUInt32LE(payload.length, 12);
  return Buffer.concat([head, payload]);
}

const z = (s) => Buffer.from(`${s}\0`);
const strings = (buf) => {
  const text = buf.toString('utf8');
  const parts = text.split('\0');
  if (parts[parts.length - 1] === '') parts.pop();
  return parts;
};

export class XsConnection {
  #write;
  #pull;
  #close;
  #buffer = Buffer.alloc(0);
  #replies = [];
  #events = [];
  #nextReqId = 1;
  #queue = Promise.resolve();

  constructor(write, pull, close) {
    this.#write = write;
    this.#pull = pull;
    this.#close = close;
  }

  /** The xenbus character device: whole messages are written; replies are read on demand only, so
   * no blocking read is left pending in the thread pool when the caller is done. */
  static device(path = '/dev/xen/xenbus') {
    const fd = fs.openSync(path, 'r+');
    let conn;
    const pull = () =>
      new Promise((resolve, reject) => {
        const buf = Buffer.alloc(65536);
        fs.read(fd, buf, 0, buf.length, null, (err, n) => {
          if (err) reject(err);
          else {
            conn._feed(buf.subarray(0, n));
            resolve();
          }
        });
      });
    conn = new XsConnection(
      (msg) => {
        const n = fs.writeSync(fd, msg);
        if (n !== msg.length) throw new Error(`short write to ${path}: ${n} of ${msg.length}`);
      },
      pull,
      () => fs.closeSync(fd),
    );
    return conn;
  }

  /** A xenstored unix socket (the real daemon's, or a test server's). */
  static socket(path) {
    return new Promise((resolve, reject) => {
      const sock = net.connect(path);
      let conn;
      let wake = null;
      sock.once('error', reject);
      sock.on('data', (d) => {
        conn._feed(d);
        const w = wake;
        wake = null;
        w?.();
      });
      sock.once('connect', () => {
        sock.off('error', reject);
        sock.on('error', () => {});
        conn = new XsConnection(
          (msg) => sock.write(msg),
          () =>
            new Promise((r) => {
              wake = r;
            }),
          () => sock.destroy(),
        );
        resolve(conn);
      });
    });
  }

  _feed(chunk) {
    this.#buffer = Buffer.concat([this.#buffer, chunk]);
    while (this.#buffer.length >= HEADER) {
      const len = this.#buffer.readUInt32LE(12);
      if (this.#buffer.length < HEADER + len) break;
      const msg = {
        type: this.#buffer.readUInt32LE(0),
        reqId: this.#buffer.readUInt32LE(4),
        txId: this.#buffer.readUInt32LE(8),
        payload: this.#buffer.subarray(HEADER, HEADER + len),
      };
      this.#buffer = this.#buffer.subarray(HEADER + len);
      if (msg.type === XS.WATCH_EVENT) {
        const [path, token] = strings(msg.payload);
        this.#events.push({ path, token });
      } else this.#replies.push(msg);
    }
  }

  /** One request, one reply; requests are serialised so replies pair up trivially. */
  request(type, payload, txId = 0, label) {
    const run = async () => {
      const reqId = this.#nextReqId++;
      this.#write(frame(type, reqId, txId, payload));
      while (this.#replies.length === 0) await this.#pull();
      const reply = this.#replies.shift();
      if (reply.type === XS.ERROR) throw new XsError(strings(reply.payload)[0], type, label);
      if (reply.type !== type || reply.reqId !== reqId) {
        throw new Error(
          `unexpected reply type ${reply.type} id ${reply.reqId} to ${type}/${reqId}`,
        );
      }
      return reply.payload;
    };
    const result = this.#queue.then(run, run);
    this.#queue = result.catch(() => {});
    return result;
  }

  async read(path, tx = 0) {
    return (await this.request(XS.READ, z(path), tx, path)).toString('utf8');
  }
  async write(path, value, tx = 0) {
    await this.request(XS.WRITE, Buffer.concat([z(path), Buffer.from(value)]), tx, path);
  }
  async mkdir(path, tx = 0) {
    await this.request(XS.MKDIR, z(path), tx, path);
  }
  async rm(path, tx = 0) {
    await this.request(XS.RM, z(path), tx, path);
  }
  async directory(path, tx = 0) {
    return strings(await this.request(XS.DIRECTORY, z(path), tx, path));
  }
  async getPerms(path, tx = 0) {
    return strings(await this.request(XS.GET_PERMS, z(path), tx, path));
  }
  async setPerms(path, perms, tx = 0) {
    await this.request(XS.SET_PERMS, Buffer.from(`${[path, ...perms].join('\0')}\0`), tx, path);
  }
  async getDomainPath(domid) {
    return strings(await this.request(XS.GET_DOMAIN_PATH, z(String(domid))))[0];
  }
  async watch(path, token) {
    await this.request(XS.WATCH, Buffer.from(`${path}\0${token}\0`), 0, path);
  }
  async unwatch(path, token) {
    await this.request(XS.UNWATCH, Buffer.from(`${path}\0${token}\0`), 0, path);
  }
  async transactionStart() {
    return Number(strings(await this.request(XS.TRANSACTION_START, z('')))[0]);
  }
  async transactionEnd(tx, commit) {
    await this.request(XS.TRANSACTION_END, z(commit ? 'T' : 'F'), tx);
  }

  /** The next watch event, reading more from the transport only when none is buffered. */
  async nextWatchEvent() {
    await this.#queue;
    while (this.#events.length === 0) await this.#pull();
    return this.#events.shift();
  }

  close() {
    this.#close();
  }
}
