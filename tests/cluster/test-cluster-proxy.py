#!/usr/bin/python3
# timeout: 240
"""Forwarding (proxyto) in a cluster of 3: one pved per node on the cluster's pvecfs, each in its
node's network namespace on 8006; the test reaches them through an address of its own on the test's
bridge. A call for node3 made on node1 runs on node3 (its ticket, an API token, root on node1's local
socket), node3's 400 comes back with its errors, a bulk start and shutdown on node1 of a VM on node3
(the bulk task's calls forwarded), a SPICE client reaches a VM on node3 through node1's SPICE
proxy (node1's proxy passes the CONNECT on to node3's), an unknown node is 404, a node shell on node3 opened
on node1 (termproxy, then vncwebsocket relayed by node1) runs in node3's network namespace, a wrong
vncticket gets node3's refusal, a task log's download from node3 through node1 is node3's file
(streamed: node1's pved does not hold it), an upload to node3 through node1 (streamed, held back
while node3 takes nothing; node3's refusals as node3 gives them; a client that leaves), a
certificate other than the one in the store is refused (596), and a stopped pved gives 595 naming
the node, to calls and websockets. Every process is stopped by PID, also when a case fails; the
shell's throwaway pam user is removed."""

import gzip
import hashlib
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import threading
import time
import urllib.parse

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import cfslib  # noqa: E402
from cfslib import case, expect  # noqa: E402

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "integration"))
import spicelib  # noqa: E402
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
def spice_through_another_node(t):
    """remote-viewer's way to a `vga: qxl` VM on node3 through node1's SPICE proxy: spiceproxy
    (forwarded to node3) answers node3's ticket and port; node1's proxy passes the CONNECT on to
    node3's (3128 in its namespace), which relays to QEMU's SPICE port: the main channel links. A
    forged ticket for node3 is refused, by node3 through node1."""
    if not vmlib.QEMU:
        raise cfslib.Skip("no qemu-system-x86_64")
    out = subprocess.run([vmlib.QEMU, "-spice", "help"], capture_output=True, text=True)
    if "tls-port" not in out.stdout + out.stderr:
        raise cfslib.Skip("QEMU has no SPICE (package qemu-system-modules-spice)")
    n1 = t.pveds[0]
    r = n1.post("/nodes/node3/qemu", {"vmid": 303, "memory": 64, "vga": "qxl"})
    expect(r.status == 200 and r.data.startswith("UPID:node3:"), r)
    expect(wait_task(n1, r.data, 120)["exitstatus"] == "OK", r)
    conf = n1.path("etc/pve/nodes/node3/qemu-server/303.conf")
    end = time.monotonic() + 10
    while not os.path.exists(conf) and time.monotonic() < end:
        time.sleep(0.1)
    r = n1.post("/nodes/node3/qemu/303/status/start")
    expect(r.status == 200, r)
    st = wait_task(n1, r.data, 120)
    expect(st["exitstatus"] == "OK", st)
    try:
        r = n1.post("/nodes/node3/qemu/303/spiceproxy", {"proxy": n1.host})
        expect(r.status == 200, r)
        a = r.data
        expect(a["proxy"] == f"http://{n1.host}:3128" and ":303:node3:" in a["host"], a)
        expect(a["host-subject"].endswith("CN=node3"), a)
        result, first = spicelib.connect(a)
        expect(result == spicelib.LINK_ERR_OK and first == spicelib.MSG_MAIN_INIT,
               (result, first))
        sig = a["host"][-40:]
        forged = a["host"][:-40] + ("0" if sig[0] != "0" else "1") + sig[1:]
        try:
            spicelib.proxy_connect(a["proxy"], f"{forged}:{a['tls-port']}")
            raise AssertionError("a forged ticket went through")
        except spicelib.ProxyRefused as e:
            expect(str(e).startswith("HTTP/1.0 401"), e)
    finally:
        r = n1.post("/nodes/node3/qemu/303/status/stop")
        if r.status == 200:
            wait_task(n1, r.data, 60)


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


MIB = 1 << 20
BOUNDARY = "----pvedfwdboundary7MA4YWxkTrZu0gW"


def form(filename, fields):
    """The multipart text before and after an upload's file bytes."""
    pre = "".join(f"--{BOUNDARY}\r\nContent-Disposition: form-data; name=\"{k}\"\r\n\r\n{v}\r\n"
                  for k, v in fields.items())
    pre += (f"--{BOUNDARY}\r\nContent-Disposition: form-data; name=\"filename\"; "
            f"filename=\"{filename}\"\r\nContent-Type: application/octet-stream\r\n\r\n")
    return pre.encode(), f"\r\n--{BOUNDARY}--\r\n".encode()


def upload_start(t, n, node, storage, filename, fields, size):
    """An upload's head and form start sent to n for node (with node1's ticket): the connection and
    the form's end."""
    pre, post = form(filename, fields)
    c = n.connection(timeout=120)
    c.putrequest("POST", f"/api2/json/nodes/{node}/storage/{storage}/upload")
    c.putheader("Cookie", "PVEAuthCookie=" + urllib.parse.quote(t.pveds[0].ticket, safe=""))
    c.putheader("CSRFPreventionToken", t.pveds[0].csrf)
    c.putheader("Content-Type", f"multipart/form-data; boundary={BOUNDARY}")
    c.putheader("Content-Length", str(len(pre) + size + len(post)))
    c.endheaders()
    c.send(pre)
    return c, post


def upload_answer(c):
    r = c.getresponse()
    body = r.read().decode(errors="replace")
    c.close()
    return r.status, body


def node3_iso_dir(t):
    """A storage of node3's own, iso3 (nodes node3), made once: "local" is one directory here, the
    first node's, as its path in the shared storage.cfg is absolute."""
    n1, n3 = t.pveds[0], t.pveds[2]
    path = n3.path("var/lib/iso3")
    if not getattr(t, "iso3", False):
        r = n1.post("/storage", {"storage": "iso3", "type": "dir", "path": path,
                                 "content": "iso", "nodes": "node3"})
        expect(r.status == 200, r)
        t.iso3 = True
    return os.path.join(path, "template", "iso")


def iso_files(d):
    return sorted(os.listdir(d)) if os.path.isdir(d) else []


@case
def upload_to_another_node(t):
    """A 64 MiB ISO with its sha256 uploaded to node3 through node1: node3's task and file, the same
    bytes. Midway node3's pved is stopped for 3 s: the client is held back (what it has sent stops
    growing) and node1's pved does not grow with what the client would send."""
    n1, n3 = t.pveds[0], t.pveds[2]
    size = 64 * MIB
    data = os.urandom(size)
    digest = hashlib.sha256(data).hexdigest()
    isos = node3_iso_dir(t)
    c, post = upload_start(t, n1, "node3", "iso3", "fwd.iso",
                           {"content": "iso", "checksum": digest, "checksum-algorithm": "sha256"},
                           size)
    sent = [0]
    failed = []

    def send():
        try:
            for off in range(0, size, MIB):
                c.send(data[off:off + MIB])
                sent[0] += MIB
            c.send(post)
        except OSError as e:
            failed.append(e)

    pid = n1.proc.pid
    with open(f"/proc/{pid}/clear_refs", "w") as f:
        f.write("5")
    before = vm_kib(pid, "VmRSS")
    th = threading.Thread(target=send)
    th.start()
    try:
        while sent[0] < 8 * MIB and th.is_alive():
            time.sleep(0.01)
        os.kill(n3.proc.pid, signal.SIGSTOP)
        try:
            time.sleep(1.5)
            held = sent[0]
            time.sleep(1.5)
            moved = sent[0] - held
            grew = vm_kib(pid, "VmHWM") - before
        finally:
            os.kill(n3.proc.pid, signal.SIGCONT)
    finally:
        th.join()
    status, body = upload_answer(c)
    expect(not failed and status == 200, f"{failed} {status} {body}")
    upid = json.loads(body)["data"]
    expect(upid.startswith("UPID:node3:"), upid)
    st = wait_task(n1, upid, timeout=120)
    expect(st["exitstatus"] == "OK", st)
    path = os.path.join(isos, "fwd.iso")
    with open(path, "rb") as f:
        expect(hashlib.sha256(f.read()).hexdigest() == digest, "node3's file differs")
    print(f"# with node3's pved stopped: the client was held at {held >> 20} of {size >> 20} MiB "
          f"and sent {moved >> 20} MiB more in 1.5 s; node1's pved peaked {grew} KiB above its "
          "RSS before", flush=True)
    expect(held < size and moved == 0,
           f"the client went on sending ({held} then {moved} bytes) while node3 took nothing")
    with open(f"/proc/{pid}/maps") as f:
        asan = "libasan" in f.read()
    expect(asan or grew < 8 << 10, f"node1's pved grew by {grew} KiB while node3 was stopped")
    os.unlink(path)


@case
def upload_refused_by_the_other_node(t):
    """node3's refusal comes back as node3 gives it: a wrong checksum (its task fails, no file) and
    an unknown storage (its error, before the body)."""
    n1, n3 = t.pveds[0], t.pveds[2]
    isos = node3_iso_dir(t)
    size = 2 * MIB
    c, post = upload_start(t, n1, "node3", "iso3", "bad.iso",
                           {"content": "iso", "checksum": "0" * 64, "checksum-algorithm": "sha256"},
                           size)
    c.send(b"\0" * size + post)
    status, body = upload_answer(c)
    expect(status == 200, f"{status} {body}")
    st = wait_task(n1, json.loads(body)["data"], timeout=60)
    expect(st["exitstatus"] != "OK", st)
    expect("bad.iso" not in iso_files(isos), iso_files(isos))

    answers = []
    for n in (n1, n3):
        c, post = upload_start(t, n, "node3", "nosuch", "x.iso", {"content": "iso"}, size)
        try:
            c.send(b"\0" * size + post)
        except OSError:
            pass  # answered and closed before the body was all sent
        answers.append(upload_answer(c))
    expect(answers[0] == answers[1] and answers[0][0] >= 400,
           f"through node1 {answers[0]}, from node3 {answers[1]}")


@case
def upload_client_leaves(t):
    """A client that leaves halfway through an upload forwarded to node3: node3 keeps no file and no
    open temporary file, and node1 goes on."""
    n1, n3 = t.pveds[0], t.pveds[2]
    isos = node3_iso_dir(t)
    size = 32 * MIB
    c, post = upload_start(t, n1, "node3", "iso3", "cut.iso", {"content": "iso"}, size)
    for _ in range(size // MIB // 2):
        c.send(b"\0" * MIB)

    def held():
        return cfslib.pvetest.open_files(n3.proc.pid, isos, "pveupload")

    end = time.monotonic() + 10
    while not held() and time.monotonic() < end:
        time.sleep(0.1)
    expect(held(), "node3 did not begin the upload")
    c.close()
    end = time.monotonic() + 10
    while held() and time.monotonic() < end:
        time.sleep(0.1)
    expect(not held(), held())
    expect("cut.iso" not in iso_files(isos), iso_files(isos))
    r = n1.get("/nodes/node3/status")
    expect(r.status == 200, r)


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
