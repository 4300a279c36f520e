"""pyxs client scenario against a xenstored socket; prints its observations as JSON.

Usage: python3 pyxs-scenario.py SOCKET
"""
import errno
import json
import sys

from pyxs import Client, PyXSError


def error_name(call):
    try:
        call()
    except PyXSError as e:
        return errno.errorcode[e.args[0]]
    return None


def text(values):
    return [v.decode() for v in values]


socket_path = sys.argv[1]
out = {}
with Client(unix_socket_path=socket_path) as c, Client(unix_socket_path=socket_path) as other:
    c.write(b"/pyxs/a", b"one")
    c.mkdir(b"/pyxs/dir")
    out["read"] = c.read(b"/pyxs/a").decode()
    out["list"] = text(c.list(b"/pyxs"))
    out["exists"] = [c.exists(b"/pyxs/a"), c.exists(b"/pyxs/missing")]
    out["readMissing"] = error_name(lambda: c.read(b"/pyxs/missing"))
    out["invalidPathByServer"] = error_name(lambda: c.execute_command(2, b"/pyxs/bad.name\x00"))

    c.set_perms(b"/pyxs/a", [b"b0", b"r5"])
    out["perms"] = text(c.get_perms(b"/pyxs/a"))
    out["permsInherited"] = text(c.get_perms(b"/pyxs/dir"))

    c.delete(b"/pyxs/dir")
    out["listAfterRm"] = text(c.list(b"/pyxs"))

    m = c.monitor()
    m.watch(b"/pyxs/w", b"tok")
    events = m.wait()
    registered = next(events)
    other.write(b"/pyxs/w/x", b"v")
    changed = next(events)
    m.unwatch(b"/pyxs/w", b"tok")
    out["events"] = [text(registered), text(changed)]

    c.transaction()
    c.write(b"/pyxs/t", b"1")
    out["invisibleOutside"] = other.exists(b"/pyxs/t")
    out["commit"] = c.commit()
    out["afterCommit"] = other.read(b"/pyxs/t").decode()

    c.transaction()
    c.read(b"/pyxs/t")
    c.write(b"/pyxs/t", b"2")
    other.write(b"/pyxs/t", b"3")
    out["conflictCommit"] = c.commit()
    out["afterConflict"] = c.read(b"/pyxs/t").decode()

    c.transaction()
    c.write(b"/pyxs/rolled", b"x")
    c.rollback()
    out["afterRollback"] = c.exists(b"/pyxs/rolled")

    out["domainPath"] = c.get_domain_path(7).decode()
    out["domainIntroduced"] = c.is_domain_introduced(7)

print(json.dumps(out))
