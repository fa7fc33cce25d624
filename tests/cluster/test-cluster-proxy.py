#!/usr/bin/python3
# timeout: 240
"""Forwarding (proxyto) in a cluster of 3: one pved per node on the cluster's pvecfs, each in its
node's network namespace on 8006; the test reaches them through an address of its own on the test's
bridge. A call for node3 made on node1 runs on node3 (its ticket, an API token, root on node1's local
socket), node3's 400 comes back with its errors, a bulk start and shutdown on node1 of a VM on node3
(the bulk task's calls forwarded), an unknown node is 404, a node shell on node3 opened
on node1 (termproxy, then vncwebsocket relayed by node1) runs in node3's network namespace, a wrong
vncticket gets node3's refusal, a task log's download from node3 through node1 is node3's file
(streamed: node1's pved does not hold it), uploads are refused (501), a certificate other than the
one in the store is refused (596), and a stopped pved gives 595 naming the node, to calls and
websockets. Every process is stopped by PID, also when a case fails; the shell's throwaway pam user
is removed."""

import gzip
import os
import re
import shutil
import subprocess
import sys
import time
import urllib.parse

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import cfslib  # noqa: E402
from cfslib import case, expect  # noqa: E402

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "integration"))
import vmlib  # noqa: E402


def type_keys(ws, text):
    """Keys for the shell, in xterm.js's input message."""
    data = text.encode()
    ws.send(b"0:%d:" % len(data) + data)


def shell_user(t):
    """A pam user allowed the node shell on node3, logged in on node1: (ticket, user, password)."""
    if not t.shell:
        raise cfslib.Skip("no throwaway pam user (useradd failed)")
    return t.shell


def node3_console(t, ticket, vncticket_suffix=""):
    """termproxy for node3, called on node1 (retried while node3 has not yet read the shell user
    from the replicated tree), and its vncwebsocket opened on node1: (termproxy's data, websocket)."""
    n1 = t.pveds[0]
    end = time.monotonic() + 15
    while True:
        r = n1.post("/nodes/node3/termproxy", {}, ticket=ticket, csrf=t.shell_csrf)
        if r.status == 200 or time.monotonic() > end:
            break
        time.sleep(0.2)
    expect(r.status == 200 and r.data["port"] >= 5900 and "UPID:node3:" in r.data["upid"], r)
    tp = r.data
    q = urllib.parse.urlencode({"port": tp["port"], "vncticket": tp["ticket"] + vncticket_suffix})
    return tp, n1.websocket(f"/nodes/node3/vncwebsocket?{q}", ticket)


def wait_task(n, upid, timeout=20):
    """The end of a task of node3's, asked through n."""
    deadline = time.time() + timeout
    while time.time() < deadline:
        r = n.get(f"/nodes/node3/tasks/{urllib.parse.quote(upid, safe='')}/status")
        expect(r.status == 200, r)
        if r.data["status"] == "stopped":
            return r.data
        time.sleep(0.2)
    raise AssertionError(f"task {upid} did not finish in {timeout} s")


def interfaces_text(n):
    out = ""
    for f in ("etc/network/interfaces.new", "etc/network/interfaces"):
        try:
            with open(n.path(f)) as fh:
                out += fh.read()
        except OSError:
            pass
    return out


@case
def get_on_another_node(t):
    n1 = t.pveds[0]
    r = n1.get("/nodes/node3/status")
    expect(r.status == 200 and isinstance(r.data, dict), f"node3's status through node1: {r}")
    r = n1.get("/nodes/node3/network")
    expect(r.status == 200 and isinstance(r.data, list), f"node3's network through node1: {r}")


@case
def write_on_another_node(t):
    n1, n3 = t.pveds[0], t.pveds[2]
    r = n1.post("/nodes/node3/network", {"iface": "vmbr7", "type": "bridge", "autostart": 1})
    expect(r.status == 200, f"create vmbr7 on node3 through node1: {r}")
    expect("vmbr7" in interfaces_text(n3), "node3's interfaces have vmbr7")
    expect("vmbr7" not in interfaces_text(n1), "node1's interfaces do not")
    r = t.pveds[1].get("/nodes/node3/network", ticket=n1.ticket)
    expect(r.status == 200 and any(i.get("iface") == "vmbr7" for i in r.data),
           f"node3's answer through node2 lists vmbr7: {r}")
    r = n1.get("/nodes/node1/network")
    expect(r.status == 200 and not any(i.get("iface") == "vmbr7" for i in r.data),
           f"node1's own list has no vmbr7: {r}")


@case
def remote_400_keeps_errors(t):
    r = t.pveds[0].post("/nodes/node3/network", {"iface": "vmbr7", "type": "bridge"})
    expect(r.status == 400, f"a second vmbr7 on node3: {r}")
    expect((r.json or {}).get("errors", {}).get("iface") == "interface already exists",
           f"node3's errors object came back: {r}")


@case
def api_token(t):
    n1 = t.pveds[0]
    status, body = n1.local_call("POST", "/access/users/admin@pve/token/fwd", {"privsep": 0})
    expect(status == 200, f"token made: {status} {body}")
    token = f"admin@pve!fwd={body['data']['value']}"
    end = time.monotonic() + 15
    while True:
        # (node3's pved picks up token.cfg from the replicated tree a moment later)
        r = n1.get("/nodes/node3/network", token=token, ticket="")
        if r.status == 200 or time.monotonic() > end:
            break
        time.sleep(0.2)
    expect(r.status == 200 and any(i.get("iface") == "vmbr7" for i in r.data),
           f"the token works through the forward: {r}")
    r = n1.get("/nodes/node3/network", token="admin@pve!fwd=00000000-0000-0000-0000-000000000000",
               ticket="")
    expect(r.status == 401, f"a wrong token is refused by node3: {r}")


@case
def local_root_gets_a_ticket(t):
    status, body = t.pveds[0].local_call("GET", "/nodes/node3/network", {})
    expect(status == 200 and any(i.get("iface") == "vmbr7" for i in body["data"]),
           f"root on node1's socket reaches node3: {status} {body}")


@case
def bulk_action_reaches_another_node(t):
    """A bulk start on node1 of a diskless VM on node3: the task calls node1's API, which forwards
    the guest's calls to node3."""
    if not vmlib.QEMU:
        raise cfslib.Skip("no qemu-system-x86_64")
    n1, n3 = t.pveds[0], t.pveds[2]
    r = n1.post("/nodes/node3/qemu", {"vmid": 301, "memory": 64})
    expect(r.status == 200 and r.data.startswith("UPID:node3:"), r)
    st = wait_task(n1, r.data, 120)
    expect(st["exitstatus"] == "OK", st)
    conf = n1.path("etc/pve/nodes/node3/qemu-server/301.conf")
    end = time.monotonic() + 10
    while not os.path.exists(conf) and time.monotonic() < end:
        time.sleep(0.1)
    for action, params, want in (("start", {"vms": "301"}, "running"),
                                 ("shutdown", {"vms": "301", "timeout": 1}, "stopped")):
        r = n1.post(f"/cluster/bulk-action/guest/{action}", params)
        expect(r.status == 200 and r.data.startswith("UPID:node1:"), r)
        st = n1.wait_task(r.data, 120)
        log = vmlib.task_log(n1, r.data)
        expect(st["exitstatus"] == "OK", f"{st} {log}")
        expect(("Starting VM 301" if action == "start" else "Shutting down VM 301") in log, log)
        r = n1.get("/nodes/node3/qemu/301/status/current")
        expect(r.status == 200 and r.data["status"] == want, r)
    expect(vmlib.qemu_pid(n3.root, 301) is None or not vmlib.alive(vmlib.qemu_pid(n3.root, 301)),
           "node3's QEMU has gone")


@case
def unknown_node(t):
    r = t.pveds[0].get("/nodes/node9/status")
    expect(r.status == 404 and "no such cluster node 'node9'" in r.body, r)


@case
def node_shell_on_another_node(t):
    """xterm.js's way to node3's shell, through node1: termproxy forwarded as a call (its port and
    vncticket are node3's), vncwebsocket relayed by node1 to node3's API; the shell runs on node3,
    in node3's network namespace, which its addresses show."""
    n1, n3 = t.pveds[0], t.pveds[2]
    ticket, user, password = shell_user(t)
    tp, ws = node3_console(t, ticket)
    try:
        expect(ws.accepted, ws.head)
        ws.send(f"{tp['user']}:{tp['ticket']}\n".encode())
        ws.read_until(rb"OK")
        ws.send(b"1:120:40:")
        ws.read_until(rb"login: ")
        type_keys(ws, user.split("@")[0] + "\n")
        ws.read_until(rb"assword: ")
        type_keys(ws, password + "\n")
        ws.read_until(rb"[$#] $")
        type_keys(ws, "echo ans$((6*7)); ip -o -4 addr show; echo done-$((1+1))\n")
        out = ws.read_until(rb"done-2").decode(errors="replace")
        expect("ans42" in out, out)
        expect(f"inet {n3.host}/" in out, f"the shell runs in node3's namespace: {out}")
        expect(f"inet {n1.host}/" not in out, f"not in node1's: {out}")
        # exit ends the shell; node3's close comes back through node1
        type_keys(ws, "exit\n")
        closed = False
        try:
            for _ in range(200):
                if ws.recv()[0] == 8:
                    closed = True
                    break
        except EOFError:
            closed = True
        expect(closed, "the console closed when the shell ended")
    finally:
        ws.close()
    st = wait_task(n1, tp["upid"])
    expect(st["exitstatus"] == "OK", st)


@case
def node_shell_client_leaves(t):
    """A client that drops its connection: node1 closes its websocket to node3, whose console ends."""
    tp, ws = node3_console(t, shell_user(t)[0])
    try:
        expect(ws.accepted, ws.head)
        ws.send(f"{tp['user']}:{tp['ticket']}\n".encode())
        ws.read_until(rb"login: ")
    finally:
        ws.close()
    st = wait_task(t.pveds[0], tp["upid"])
    expect(st["exitstatus"] == "OK", st)


@case
def wrong_vncticket_refused_by_the_node(t):
    """A wrong vncticket: node1 does not judge it, node3 refuses it, and its answer comes back as it
    is (the same as node3 gives when asked itself)."""
    n1, n3 = t.pveds[0], t.pveds[2]
    ticket = shell_user(t)[0]
    tp, ws = node3_console(t, ticket, "x")
    heads = []
    try:
        expect(not ws.accepted, ws.head)
        heads.append(ws.head.split("\r\n")[0])
    finally:
        ws.close()
    q = urllib.parse.urlencode({"port": tp["port"], "vncticket": tp["ticket"] + "x"})
    ws = n3.websocket(f"/nodes/node3/vncwebsocket?{q}", ticket)
    try:
        expect(not ws.accepted, ws.head)
        heads.append(ws.head.split("\r\n")[0])
    finally:
        ws.close()
    expect(re.match(r"HTTP/1.1 403 invalid ticket", heads[0]) and heads[0] == heads[1],
           f"node3's refusal comes back through node1: {heads}")
    # Nobody came with the right ticket: node3's shell task gives up after its timeout.
    st = wait_task(n1, tp["upid"], timeout=30)
    expect(st["exitstatus"] != "OK", st)


def download_log(n, ticket, upid, leave_after=None):
    """node3's task log with download=1, asked of n: (status, headers, the body un-gzipped); with
    leave_after, the connection closes after that many bytes of the body."""
    c = n.connection(timeout=120)
    try:
        c.request("GET", f"/api2/json/nodes/node3/tasks/{urllib.parse.quote(upid, safe='')}/log"
                  "?download=1", headers={"Cookie": "PVEAuthCookie=" +
                                          urllib.parse.quote(ticket, safe="")})
        r = c.getresponse()
        if leave_after is not None:
            return r.status, {}, r.read(leave_after)
        body = r.read()
        headers = {k.lower(): v for k, v in r.getheaders()}
    finally:
        c.close()
    if headers.get("content-encoding") == "gzip":
        body = gzip.decompress(body)
    return r.status, headers, body


def vm_kib(pid, field):
    """VmRSS or VmHWM (the highest RSS so far) of a process, in KiB."""
    with open(f"/proc/{pid}/status") as f:
        return int(re.search(rf"^{field}:\s+(\d+) kB", f.read(), re.M).group(1))


@case
def log_download_from_another_node(t):
    """A task of node3's (a VM's creation) and its log with download=1 through node1: the same file
    (type, name, bytes) as node3 sends itself, short and then long (the log made over 30 MiB, written
    into node3's task directory): streamed through node1, whose pved does not hold it."""
    n1, n3 = t.pveds[0], t.pveds[2]
    r = n1.post("/nodes/node3/qemu", {"vmid": 302, "memory": 64})
    expect(r.status == 200 and r.data.startswith("UPID:node3:"), r)
    upid = r.data
    st = wait_task(n1, upid, 120)
    expect(st["exitstatus"] == "OK", st)

    def same():
        fwd = download_log(n1, n1.ticket, upid)
        own = download_log(n3, n1.ticket, upid)
        expect(fwd[0] == 200 and own[0] == 200, f"{fwd[0]} {own[0]}")
        for h in ("content-type", "content-disposition", "content-encoding"):
            expect(fwd[1].get(h) == own[1].get(h), f"{h}: {fwd[1].get(h)} vs {own[1].get(h)}")
        expect(fwd[2] == own[2], f"{len(fwd[2])} bytes through node1, {len(own[2])} from node3")
        return fwd

    fwd = same()
    expect(b"TASK OK" in fwd[2] and upid.split(":")[5] in fwd[1].get("content-disposition", ""),
           fwd)

    starttime = int(upid.split(":")[4], 16)
    path = n3.path(f"var/log/pve/tasks/{starttime & 0xf:X}/{upid}")
    with open(path, "rb") as f:
        lines = f.read().splitlines(keepends=True)
    filler = b"".join(b"%08d %s\n" % (i, os.urandom(32).hex().encode()) for i in range(450000))
    with open(path, "wb") as f:
        f.write(b"".join(lines[:-1]) + filler + lines[-1])
    pid = n1.proc.pid
    # the peak RSS while relaying against the RSS before: the peak so far (of its start) is reset
    with open(f"/proc/{pid}/clear_refs", "w") as f:
        f.write("5")
    before = vm_kib(pid, "VmRSS")
    fwd = same()
    expect(len(fwd[2]) > 30 << 20 and fwd[1].get("content-encoding") == "gzip", len(fwd[2]))
    grew = vm_kib(pid, "VmHWM") - before
    print(f"# node1 pved: RSS {before} KiB before, its peak {grew} KiB above", flush=True)
    with open(f"/proc/{pid}/maps") as f:
        asan = "libasan" in f.read()  # its quarantine keeps what was freed: RSS says nothing
    expect(asan or grew < 8 << 10, f"node1's pved grew by {grew} KiB while relaying a 30 MiB log")
    # a client that leaves halfway: node1 lets go of node3's answer and goes on
    r = download_log(n1, n1.ticket, upid, leave_after=1 << 20)
    expect(r[0] == 200 and len(r[2]) == 1 << 20, r[0])
    r = n1.get("/nodes/node3/status")
    expect(r.status == 200, f"node1 after a client left a download: {r}")


@case
def uploads_refused(t):
    """Uploads to another node are not forwarded yet: refused before any of the body is taken."""
    n1 = t.pveds[0]
    body = (b"--XyZ\r\nContent-Disposition: form-data; name=\"content\"\r\n\r\niso\r\n"
            b"--XyZ\r\nContent-Disposition: form-data; name=\"filename\"; "
            b"filename=\"x.iso\"\r\nContent-Type: application/octet-stream\r\n\r\n"
            + b"\0" * 4096 + b"\r\n--XyZ--\r\n")
    r = n1.post("/nodes/node3/storage/local/upload", body=body,
                headers={"Content-Type": "multipart/form-data; boundary=XyZ"})
    expect(r.status == 501 and "forwarding uploads to another node is not supported yet"
           in r.body, r)


@case
def certificate_pinned(t):
    n1 = t.pveds[0]
    path = n1.path("etc/pve/nodes/node3/pve-ssl.pem")
    with open(path) as f:
        own = f.read()
    with open(n1.path("etc/pve/nodes/node2/pve-ssl.pem")) as f:
        other = f.read()
    try:
        with open(path, "w") as f:
            f.write(other)
        r = n1.get("/nodes/node3/status")
        expect(r.status == 596 and "does not match nodes/node3/pve-ssl.pem" in r.body,
               f"node3 serving a certificate other than the store's is refused: {r}")
    finally:
        with open(path, "w") as f:
            f.write(own)
    r = n1.get("/nodes/node3/status")
    expect(r.status == 200, f"with the store's certificate back: {r}")


@case
def stopped_node(t):
    t.pveds[2].stop()
    r = t.pveds[0].get("/nodes/node3/status")
    expect(r.status == 595 and "node 'node3'" in r.body and "Connection refused" in r.body, r)
    if t.shell:
        q = urllib.parse.urlencode({"port": 5900, "vncticket": "PVEVNC:00000000::x"})
        ws = t.pveds[0].websocket(f"/nodes/node3/vncwebsocket?{q}", t.shell[0])
        try:
            expect(not ws.accepted and re.match(r"HTTP/1.1 595 node 'node3' .*Connection refused",
                                                ws.head), ws.head)
        finally:
            ws.close()


class Test:
    pass


def make_shell_user(t, user):
    """A throwaway system user with a shell, in the pam realm, with Sys.Console on node3, logged in
    on node1 (node3 reads the same replicated user.cfg)."""
    n1 = t.pveds[0]
    password = "Pw-" + os.urandom(6).hex()
    if subprocess.run(["useradd", "-M", "-s", "/bin/sh", user]).returncode != 0:
        return
    subprocess.run(["chpasswd"], input=f"{user}:{password}\n", text=True, check=True)
    expect(n1.post("/access/roles", {"roleid": "Shell", "privs": "Sys.Console"}).status == 200,
           "role Shell")
    expect(n1.post("/access/users", {"userid": f"{user}@pam"}).status == 200, "pam user")
    r = n1.request("PUT", "/access/acl", {"path": "/nodes/node3", "roles": "Shell",
                                          "users": f"{user}@pam"})
    expect(r.status == 200, r)
    r = n1.post("/access/ticket", {"username": f"{user}@pam", "password": password}, ticket="")
    expect(r.status == 200, r)
    t.shell = (r.data["ticket"], f"{user}@pam", password)
    t.shell_csrf = r.data["CSRFPreventionToken"]


def main():
    if not shutil.which("nsenter"):
        print("skip all: no nsenter")
        return 0
    try:
        # host_ip: the test's own address on its own bridge, so its HTTP client reaches the nodes
        with cfslib.Cluster(3, host_ip=True) as cl:
            t = Test()
            t.pveds = []
            try:
                for nd in cl.nodes:
                    # node1 first: its first start writes the keys, the CA and user.cfg
                    n = cfslib.PvedNode(nd)
                    t.pveds.append(n)
                    n.start(timeout=30)
                t.pveds[0].login()
                t.shell = None
                user = "pvedfw%d" % (os.getpid() % 100000)
                try:
                    make_shell_user(t, user)
                    return cfslib.run(t)
                finally:
                    subprocess.run(["userdel", user], stderr=subprocess.DEVNULL)
            finally:
                for n in t.pveds:
                    n.stop()
                    vmlib.kill_vms(n.root)
    except cfslib.Skip as e:
        print(f"skip all: {e}")
        return 0


if __name__ == "__main__":
    sys.exit(main())
