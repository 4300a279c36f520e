// The guest's view of xenstore, as a list of observations: run inside a PV DomU against its
// /dev/xen/xenbus (the real xenstored on the other side), and on the host against a test server's
// guest-domain socket, so that both answer the same questions. Prints one line:
//   XEN_LANE_PROBE {"domid":N,"steps":[{"step":"...","value":...} | {"step":"...","error":"EACCES"}]}
// Values that depend on the domain id are normalised ("<domid>"), so runs compare as-is.
//   node probe.mjs [--device /dev/xen/xenbus | --socket PATH]
import { XsConnection } from './xs-wire.mjs';

const args = process.argv.slice(2);
const socketAt = args.indexOf('--socket');
const deviceAt = args.indexOf('--device');
const xs =
  socketAt >= 0
    ? await XsConnection.socket(args[socketAt + 1])
    : XsConnection.device(deviceAt >= 0 ? args[deviceAt + 1] : '/dev/xen/xenbus');

const steps = [];
let domid = null;
const normalise = (v) => {
  if (domid === null) return v;
  if (typeof v === 'string')
    return v
      .replaceAll(`/local/domain/${domid}`, '/local/domain/<domid>')
      .replace(new RegExp(`^([nrwb])${domid}$`), '$1<domid>');
  if (Array.isArray(v)) return v.map(normalise);
  return v;
};
async function step(name, fn) {
  try {
    const value = await fn();
    steps.push(
      value === undefined ? { step: name, ok: true } : { step: name, value: normalise(value) },
    );
  } catch (err) {
    if (typeof err?.code !== 'string') throw err;
    steps.push({ step: name, error: err.code });
  }
}

// Who am I: the toolstack writes the guest's id into its home, readable by a relative path.
domid = Number(await xs.read('domid'));
await step('get-domain-path self', () => xs.getDomainPath(domid));
await step('read relative name', async () => (await xs.read('name')).length > 0);
// The permissions the toolstack gave the guest's home and what it created in it.
await step('get-perms home', () => xs.getPerms(`/local/domain/${domid}`));
await step('get-perms relative name', () => xs.getPerms('name'));
await step('get-perms relative data', () => xs.getPerms('data'));

// The home is the guest's: relative and absolute paths name the same nodes.
await step('write relative data/probe', () => xs.write('data/probe', 'hello'));
await step('read relative data/probe', () => xs.read('data/probe'));
await step('read absolute data/probe', () => xs.read(`/local/domain/${domid}/data/probe`));
await step('directory relative data', () => xs.directory('data'));
await step('get-perms data/probe', () => xs.getPerms('data/probe'));
await step('mkdir relative data/dir', () => xs.mkdir('data/dir'));
await step('read fresh directory', () => xs.read('data/dir'));
await step('read missing', () => xs.read('data/missing'));
await step('rm missing child', () => xs.rm('data/missing'));

// Dom0's nodes and the tools' area are off limits to a guest.
await step('read /local/domain/0/name', () => xs.read('/local/domain/0/name'));
await step('directory /local/domain/0', () => xs.directory('/local/domain/0'));
await step('write /tool/xen-lane-probe', () => xs.write('/tool/xen-lane-probe', 'x'));
await step('mkdir /local/domain/0/xen-lane-probe', () =>
  xs.mkdir('/local/domain/0/xen-lane-probe'),
);
await step('set-perms /local/domain/0', () => xs.setPerms('/local/domain/0', [`n${domid}`]));
await step('introduce from a guest', () => xs.request(8, Buffer.from('1\x00123\x004\x00')));

// Watches: a relative watch fires once on registration and again on each change, with the path
// as the guest wrote it.
await step('watch relative data/w', () => xs.watch('data/w', 'tok'));
await step('first event', async () => Object.values(await xs.nextWatchEvent()));
await step('write data/w/x', () => xs.write('data/w/x', '1'));
await step('event for data/w/x', async () => Object.values(await xs.nextWatchEvent()));
await step('unwatch data/w', () => xs.unwatch('data/w', 'tok'));
await step('watch absolute home', () => xs.watch(`/local/domain/${domid}/data/abs`, 'abs'));
await step('first absolute event', async () => Object.values(await xs.nextWatchEvent()));
await step('write relative under absolute watch', () => xs.write('data/abs', 'v'));
await step('absolute event', async () => Object.values(await xs.nextWatchEvent()));
await step('unwatch absolute', () => xs.unwatch(`/local/domain/${domid}/data/abs`, 'abs'));

// Transactions: isolation, commit, abort and a conflict.
let tx = 0;
await step('transaction start', async () => {
  tx = await xs.transactionStart();
  return tx > 0;
});
await step('write in transaction', () => xs.write('data/tx/a', '1', tx));
await step('read in transaction', () => xs.read('data/tx/a', tx));
await step('read outside transaction', () => xs.read('data/tx/a'));
await step('commit', () => xs.transactionEnd(tx, true));
await step('read after commit', () => xs.read('data/tx/a'));
await step('abort', async () => {
  const t = await xs.transactionStart();
  await xs.write('data/tx/aborted', '1', t);
  await xs.transactionEnd(t, false);
});
await step('read after abort', () => xs.read('data/tx/aborted'));
await step('conflict', async () => {
  await xs.write('data/c', '0');
  const t = await xs.transactionStart();
  await xs.read('data/c', t);
  await xs.write('data/c', '1');
  await xs.write('data/c', '2', t);
  await xs.transactionEnd(t, true);
});
await step('read after conflict', () => xs.read('data/c'));
await step('end unknown transaction', () => xs.transactionEnd(0x7fffffff, true));

await step('rm relative data/tx', () => xs.rm('data/tx'));
await step('directory after rm', () => xs.directory('data'));
xs.close();
console.log(`XEN_LANE_PROBE ${JSON.stringify({ domid, steps })}`);
