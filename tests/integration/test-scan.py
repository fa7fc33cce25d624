"""The scan routes (/nodes/{node}/scan/{nfs,cifs,iscsi,lvm,lvmthin}) and network storages over the API on a real pved:
the index, bad input answered with 400, an unreachable server answered with an error naming it, and,
where PVE_TEST_* name real servers (tests/storage/lab-storage-net.sh in the lab), the real scans and an
nfs storage added, used and removed through the API. Needs root."""

import os
import socket
import ssl
import sys
import threading
import time
import urllib.parse

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from pvetest import Node, Skip, case, expect, run  # noqa: E402


def text(r):
    """The error as a client sees it: the status line's reason and the body."""
    body = r.body.decode(errors="replace") if isinstance(r.body, bytes) else str(r.body)
    return f"{r.reason} {body}"


@case
def scan_index(n):
    r = n.get(f"/nodes/{n.name}/scan")
    expect(r.status == 200, r)
    methods = sorted(x["method"] for x in r.data)
    for m in ("cifs", "iscsi", "lvm", "lvmthin", "nfs"):
        expect(m in methods, methods)


@case
def scan_bad_input(n):
    base = f"/nodes/{n.name}/scan"
    for path, params, param in [
        ("nfs", {}, "server"),
        ("nfs", {"server": "-oProxyCommand=x"}, "server"),
        ("nfs", {"server": "a b"}, "server"),
        ("cifs", {"server": "x/y"}, "server"),
        ("iscsi", {"portal": "a b"}, "portal"),
        ("iscsi", {"portal": "-p"}, "portal"),
        ("lvmthin", {}, "vg"),
        ("lvmthin", {"vg": "-x"}, "vg"),
        ("lvmthin", {"vg": "a/b"}, "vg"),
    ]:
        r = n.get(f"{base}/{path}", params)
        expect(r.status == 400, (path, params, r))
        expect(param in (r.json.get("errors") or {}) or "portal" in text(r), (path, params, r))


@case
def scan_unreachable(n):
    t0 = time.monotonic()
    r = n.get(f"/nodes/{n.name}/scan/iscsi", {"portal": "127.0.0.1:1"})
    expect(r.status >= 500 and "'127.0.0.1' port 1" in text(r), r)
    r = n.get(f"/nodes/{n.name}/scan/nfs", {"server": "192.0.2.1"})
    expect(r.status >= 500 and "'192.0.2.1'" in text(r), r)
    expect(time.monotonic() - t0 < 15, "took too long")


def have_device_mapper():
    if os.path.exists("/dev/mapper/control"):
        return True
    with open("/proc/misc") as f:
        return any(line.split()[1:] == ["device-mapper"] for line in f)


@case
def scan_lvm(n):
    base = f"/nodes/{n.name}/scan"
    lvm, thin = n.get(f"{base}/lvm"), n.get(f"{base}/lvmthin", {"vg": "pvedtestnovg"})
    if not have_device_mapper():
        for r in (lvm, thin):
            expect(r.status == 500 and "device-mapper" in text(r), r)
        return
    expect(lvm.status == 200 and isinstance(lvm.data, list), lvm)
    for vg in lvm.data:
        expect(set(vg) == {"vg", "size", "free"} and vg["free"] <= vg["size"], vg)
    expect(thin.status >= 500 and "pvedtestnovg" in text(thin), thin)
    vg = os.environ.get("PVED_TEST_VG")
    if vg:
        expect(any(x["vg"] == vg for x in lvm.data), lvm.data)
        r = n.get(f"{base}/lvmthin", {"vg": vg})
        expect(r.status == 200 and isinstance(r.data, list), r)
        pool = os.environ.get("PVED_TEST_THINPOOL")
        if pool:
            expect(any(x["lv"] == pool and x["lv_size"] > 0 for x in r.data), r.data)


@case
def storage_unreachable_nothing_changed(n):
    before = n.get("/storage").data
    mnt = n.path("mnt/pve/nfsdown")
    r = n.post("/storage", {"storage": "nfsdown", "type": "nfs", "server": "127.0.0.1",
                            "export": "/srv", "path": mnt})
    expect(r.status >= 400 and "127.0.0.1" in text(r), r)
    expect(n.get("/storage").data == before, "storage.cfg changed")
    expect(not os.path.exists(mnt), "mount point made")


def storage_cfg(n):
    with open(n.path("etc/pve/storage.cfg")) as f:
        return f.read()


class SilentServer:
    """A TCP server on loopback that accepts connections and never answers: a dead NFS server whose
    machine is still up. Closed (by the test) at the end."""

    def __init__(self):
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(16)
        self.port = self.sock.getsockname()[1]
        self.conns = []
        self.stop = False
        self.thread = threading.Thread(target=self.serve, daemon=True)
        self.thread.start()

    def serve(self):
        self.sock.settimeout(0.2)
        while not self.stop:
            try:
                c, _ = self.sock.accept()
                self.conns.append(c)
            except OSError:
                pass

    def close(self):
        self.stop = True
        self.thread.join()
        for c in self.conns:
            c.close()
        self.sock.close()


@case
def dead_server_does_not_block(n):
    """A storage whose server takes connections and answers nothing: adding it fails within seconds,
    naming the server, while the API keeps answering at once (the activation runs off pved's loop);
    the status list shows it inactive and the others as they are."""
    dead = SilentServer()
    try:
        result = {}

        def add():
            t0 = time.monotonic()
            result["r"] = n.post("/storage", {"storage": "nfsdead", "type": "nfs",
                                              "server": "127.0.0.1", "export": "/srv",
                                              "options": f"vers=4.2,port={dead.port}",
                                              "path": n.path("mnt/pve/nfsdead")})
            result["t"] = time.monotonic() - t0

        t = threading.Thread(target=add)
        t.start()
        slowest, calls = 0.0, 0
        while t.is_alive():
            t0 = time.monotonic()
            r = n.get("/version")
            slowest = max(slowest, time.monotonic() - t0)
            calls += 1
            expect(r.status == 200, r)
            time.sleep(0.05)
        t.join()
        r = result["r"]
        print(f"# dead server: answer in {result['t']:.1f} s ({text(r)[:160]}); /version {calls} "
              f"times, slowest {slowest * 1000:.0f} ms")
        expect(r.status >= 400 and "'127.0.0.1'" in text(r) and "not online" in text(r), r)
        expect(result["t"] < 10, f"took {result['t']:.1f} s")
        expect(calls >= 3 and slowest < 1.0, f"/version answered in {slowest:.2f} s while it waited")
        expect(n.get("/storage/nfsdead").status == 500, "nfsdead saved")
        expect(not os.path.exists(n.path("mnt/pve/nfsdead")), "mount point made")
        # the same for an SMB server
        t0 = time.monotonic()
        r = n.post("/storage", {"storage": "cifsdead", "type": "cifs", "server": "127.0.0.1",
                                "share": "s", "options": f"port={dead.port}",
                                "path": n.path("mnt/pve/cifsdead")})
        expect(r.status >= 400 and "'127.0.0.1'" in text(r) and "not online" in text(r), r)
        expect(time.monotonic() - t0 < 10, "cifs took too long")
        expect(n.get("/storage/cifsdead").status == 500, "cifsdead saved")

        # two written by hand, as if they had been added while the server was up
        cfg = storage_cfg(n)
        with open(n.path("etc/pve/storage.cfg"), "a") as f:
            f.write(f"\nnfs: nfsdead\n\tserver 127.0.0.1\n\texport /srv\n\tcontent iso\n"
                    f"\tpath {n.path('mnt/pve/nfsdead')}\n\toptions port={dead.port}\n")
            f.write(f"\ncifs: cifsdead\n\tserver 127.0.0.1\n\tshare s\n"
                    f"\tpath {n.path('mnt/pve/cifsdead')}\n\toptions port={dead.port}\n")
        try:
            # both servers are asked at once: one probe's time (3 s), not two
            t0 = time.monotonic()
            r = n.get(f"/nodes/{n.name}/storage")
            took = time.monotonic() - t0
            expect(r.status == 200, r)
            by = {x["storage"]: x for x in r.data}
            expect(by.get("nfsdead", {}).get("active") == 0, by.get("nfsdead"))
            expect(by.get("cifsdead", {}).get("active") == 0, by.get("cifsdead"))
            expect(by.get("local", {}).get("active") == 1, by.get("local"))
            print(f"# status list with two dead servers: {took:.1f} s")
            expect(took < 5, f"status list took {took:.1f} s")
            upload_to_dead_storage(n)
            # its content: the clear error, and the loop free meanwhile
            t0 = time.monotonic()
            r = n.get(f"/nodes/{n.name}/storage/nfsdead/content")
            expect(r.status >= 400 and "'127.0.0.1'" in text(r), r)
            expect(time.monotonic() - t0 < 10, "content took too long")
        finally:
            with open(n.path("etc/pve/storage.cfg"), "w") as f:
                f.write(cfg)
    finally:
        dead.close()


def upload_to_dead_storage(n):
    """An upload to a storage whose server is dead: the error names the server, no byte of the body is
    asked for (the answer comes instead of 100 Continue), and the API answers meanwhile."""
    ctx = ssl.create_default_context(cafile=n.path("etc/pve/pve-root-ca.pem"))
    s = ctx.wrap_socket(socket.create_connection(("127.0.0.1", n.port), timeout=30),
                        server_hostname="127.0.0.1")
    b = "pvedtestboundary"
    body_len = 1 << 20
    head = (f"POST /api2/json/nodes/{n.name}/storage/nfsdead/upload HTTP/1.1\r\nHost: 127.0.0.1\r\n"
            f"Cookie: PVEAuthCookie={urllib.parse.quote(n.ticket, safe='')}\r\n"
            f"CSRFPreventionToken: {n.csrf}\r\nExpect: 100-continue\r\n"
            f"Content-Type: multipart/form-data; boundary={b}\r\nContent-Length: {body_len}\r\n\r\n")
    result = {}

    def wait_answer():
        t0 = time.monotonic()
        s.sendall(head.encode())
        result["answer"] = s.recv(4096).decode(errors="replace")
        result["t"] = time.monotonic() - t0

    try:
        t = threading.Thread(target=wait_answer)
        t.start()
        slowest, calls = 0.0, 0
        while t.is_alive():
            t0 = time.monotonic()
            expect(n.get("/version").status == 200, "/version failed")
            slowest = max(slowest, time.monotonic() - t0)
            calls += 1
            time.sleep(0.05)
        t.join()
    finally:
        s.close()
    answer = result.get("answer", "")
    print(f"# upload to a dead server: answer in {result.get('t', 0):.1f} s; /version {calls} times, "
          f"slowest {slowest * 1000:.0f} ms")
    expect(answer.startswith("HTTP/1.1 5") or answer.startswith("HTTP/1.1 4"), answer[:200])
    expect("127.0.0.1" in answer, answer[:300])
    # no body was read, so the connection cannot carry another request
    expect("\r\nconnection: close\r\n" in answer.lower(), answer[:300])
    expect(calls >= 3 and slowest < 1.0, f"/version answered in {slowest:.2f} s while it waited")


@case
def netfs_default_path(n):
    # disabled: nothing to activate, so the definition is saved without a server
    r = n.post("/storage", {"storage": "nfsdef", "type": "nfs", "server": "127.0.0.1",
                            "export": "/srv", "disable": 1})
    expect(r.status == 200, r)
    r = n.get("/storage/nfsdef")
    expect(r.status == 200 and r.data.get("path") == n.path("mnt/pve/nfsdef"), r)
    expect(f"path {n.path('mnt/pve/nfsdef')}\n" in storage_cfg(n), storage_cfg(n))
    # a definition without one (hand-written) gets it on its next update
    cfg = storage_cfg(n).replace(f"\tpath {n.path('mnt/pve/nfsdef')}\n", "")
    with open(n.path("etc/pve/storage.cfg"), "w") as f:
        f.write(cfg)
    expect("path" not in n.get("/storage/nfsdef").data, "path still there")
    r = n.request("PUT", "/storage/nfsdef", {"content": "iso"})
    expect(r.status == 200, r)
    expect(n.get("/storage/nfsdef").data.get("path") == n.path("mnt/pve/nfsdef"), "no default path")
    r = n.post("/storage", {"storage": "nfsown", "type": "nfs", "server": "127.0.0.1",
                            "export": "/srv", "disable": 1, "path": n.path("elsewhere")})
    expect(r.status == 200 and n.get("/storage/nfsown").data.get("path") == n.path("elsewhere"), r)
    for sid in ("nfsdef", "nfsown"):
        expect(n.request("DELETE", f"/storage/{sid}").status == 200, sid)


@case
def cifs_password_stored_apart(n):
    pwfile = n.path("etc/pve/priv/storage/cifspw.pw")
    r = n.post("/storage", {"storage": "cifspw", "type": "cifs", "server": "127.0.0.1",
                            "share": "data", "username": "u", "password": "s3cr=t pw",
                            "disable": 1})
    expect(r.status == 200, r)
    expect("s3cr" not in storage_cfg(n) and "password" not in storage_cfg(n), storage_cfg(n))
    with open(pwfile) as f:
        expect(f.read() == "password=s3cr=t pw\n", "password file")
    expect(os.stat(pwfile).st_mode & 0o777 == 0o600, oct(os.stat(pwfile).st_mode))
    for r in (n.get("/storage/cifspw"), n.get("/storage")):
        expect(r.status == 200 and "s3cr" not in text(r) and "password" not in text(r), r)
    # an update without one keeps it; with one replaces it; a newline is refused
    r = n.request("PUT", "/storage/cifspw", {"content": "iso"})
    expect(r.status == 200, r)
    with open(pwfile) as f:
        expect(f.read() == "password=s3cr=t pw\n", "password lost by an update")
    expect("password" not in storage_cfg(n), storage_cfg(n))
    r = n.request("PUT", "/storage/cifspw", {"password": "new"})
    expect(r.status == 200, r)
    with open(pwfile) as f:
        expect(f.read() == "password=new\n", "password not replaced")
    r = n.request("PUT", "/storage/cifspw", {"password": "a\nb"})  # checked under the lock, as Proxmox
    expect(r.status == 500 and "password: invalid value" in text(r), r)
    # enabled, it is activated at once: the dead server fails it, and the error does not show the password
    r = n.request("PUT", "/storage/cifspw", {"delete": "disable"})
    expect(r.status >= 500 and "127.0.0.1" in text(r) and "new" not in text(r), r)
    r = n.request("PUT", "/storage/cifspw", {"delete": "password"})
    expect(r.status == 200 and not os.path.exists(pwfile), r)
    r = n.request("PUT", "/storage/cifspw", {"password": "again"})
    expect(r.status == 200 and os.path.exists(pwfile), r)
    # one in a hand-written storage.cfg is never shown and moves to the file on the next update
    cfg = storage_cfg(n).replace("\tusername u\n", "\tusername u\n\tpassword handwritten\n")
    with open(n.path("etc/pve/storage.cfg"), "w") as f:
        f.write(cfg)
    expect("handwritten" not in text(n.get("/storage/cifspw")), "shown")
    r = n.request("PUT", "/storage/cifspw", {"content": "images"})
    expect(r.status == 200 and "handwritten" not in storage_cfg(n), (r, storage_cfg(n)))
    with open(pwfile) as f:
        expect(f.read() == "password=handwritten\n", "not moved to the file")
    expect(n.request("DELETE", "/storage/cifspw").status == 200, "delete")
    expect(not os.path.exists(pwfile), "password file left behind")
    r = n.post("/storage", {"storage": "nfspw", "type": "nfs", "server": "127.0.0.1",
                            "export": "/srv", "password": "x", "disable": 1})
    expect(r.status == 400 and not os.path.exists(n.path("etc/pve/priv/storage/nfspw.pw")), r)


@case
def scan_real(n):
    nfs, cifs, portal = (os.environ.get(k) for k in
                         ("PVE_TEST_NFS_SERVER", "PVE_TEST_CIFS_SERVER", "PVE_TEST_ISCSI_PORTAL"))
    if not (nfs and cifs and portal):
        raise Skip("no servers named by PVE_TEST_* (the lab test sets them)")
    r = n.get(f"/nodes/{n.name}/scan/nfs", {"server": nfs})
    expect(r.status == 200 and any(x["path"] == os.environ["PVE_TEST_NFS_EXPORT"] for x in r.data), r)
    r = n.get(f"/nodes/{n.name}/scan/cifs", {"server": cifs,
                                             "username": os.environ["PVE_TEST_CIFS_USER"],
                                             "password": os.environ["PVE_TEST_CIFS_PASSWORD"]})
    expect(r.status == 200 and any(x["share"] == os.environ["PVE_TEST_CIFS_SHARE"] for x in r.data), r)
    r = n.get(f"/nodes/{n.name}/scan/iscsi", {"portal": portal})
    expect(r.status == 200 and any(x["target"] == os.environ["PVE_TEST_ISCSI_TARGET"] for x in r.data), r)


@case
def nfs_storage_over_api(n):
    server, export = os.environ.get("PVE_TEST_NFS_SERVER"), os.environ.get("PVE_TEST_NFS_EXPORT")
    if not (server and export):
        raise Skip("no NFS server named by PVE_TEST_* (the lab test sets them)")
    mnt = n.path("mnt/pve/nfsapi")
    r = n.post("/storage", {"storage": "nfsapi", "type": "nfs", "server": server, "export": export,
                            "path": mnt, "content": "images,iso"})
    expect(r.status == 200, r)
    try:
        r = n.get(f"/nodes/{n.name}/storage/nfsapi/status")
        expect(r.status == 200 and r.data.get("active") and r.data.get("total", 0) > 0, r)
        base = f"/nodes/{n.name}/storage/nfsapi/content"
        r = n.post(base, {"vmid": 100, "filename": "vm-100-disk-0.qcow2", "size": "8M",
                          "format": "qcow2"})
        expect(r.status == 200 and r.data == "nfsapi:100/vm-100-disk-0.qcow2", r)
        expect(os.path.exists(os.path.join(export, "images/100/vm-100-disk-0.qcow2")), "not on server")
        r = n.get(base)
        expect(r.status == 200 and [x["volid"] for x in r.data] == ["nfsapi:100/vm-100-disk-0.qcow2"], r)
        r = n.request("DELETE", f"{base}/nfsapi:100%2Fvm-100-disk-0.qcow2")
        expect(r.status == 200, r)
        n.wait_task(r.data)
        expect(not os.path.exists(os.path.join(export, "images/100/vm-100-disk-0.qcow2")), "not freed")
    finally:
        n.request("DELETE", "/storage/nfsapi")
        os.system(f"umount {mnt} 2>/dev/null")


@case
def nfs_concurrent_activations_mount_once(n):
    """Requests that each activate one nfs storage at the same moment mount it once: pved activates a
    storage one job at a time (lab: real nfsd)."""
    server, export = os.environ.get("PVE_TEST_NFS_SERVER"), os.environ.get("PVE_TEST_NFS_EXPORT")
    if not (server and export):
        raise Skip("no NFS server named by PVE_TEST_* (the lab test sets them)")
    mnt = n.path("mnt/pve/nfsrace")
    r = n.post("/storage", {"storage": "nfsrace", "type": "nfs", "server": server, "export": export,
                            "path": mnt, "content": "images,iso"})
    expect(r.status == 200, r)
    try:
        for attempt in range(3):
            # unmounted, then asked for by eight requests at once
            while os.system(f"umount {mnt} 2>/dev/null") == 0:
                pass
            base = f"/nodes/{n.name}/storage/nfsrace"
            paths = [f"{base}/status", f"{base}/content"] * 4
            results = [None] * len(paths)

            def ask(i):
                results[i] = n.get(paths[i])
            threads = [threading.Thread(target=ask, args=(i,)) for i in range(len(paths))]
            for t in threads:
                t.start()
            for t in threads:
                t.join()
            expect(all(r is not None and r.status == 200 for r in results), results)
            with open("/proc/mounts") as f:
                mounts = [line for line in f if line.split()[1] == mnt]
            expect(len(mounts) == 1, f"attempt {attempt}: mounted {len(mounts)} times: {mounts}")
    finally:
        n.request("DELETE", "/storage/nfsrace")
        while os.system(f"umount {mnt} 2>/dev/null") == 0:
            pass


@case
def cifs_storage_over_api(n):
    env = {k: os.environ.get(f"PVE_TEST_CIFS_{k}") for k in ("SERVER", "SHARE", "USER", "PASSWORD", "DIR")}
    if not all(env.values()):
        raise Skip("no SMB server named by PVE_TEST_* (the lab test sets them)")
    mnt = n.path("mnt/pve/cifsapi")
    r = n.post("/storage", {"storage": "cifsapi", "type": "cifs", "server": env["SERVER"],
                            "share": env["SHARE"], "username": env["USER"],
                            "password": env["PASSWORD"], "content": "images"})
    expect(r.status == 200, r)
    try:
        expect(n.get("/storage/cifsapi").data.get("path") == mnt, "no default path")
        expect(env["PASSWORD"] not in storage_cfg(n), "password in storage.cfg")
        # mounted again by the content call: with the password from priv/storage/cifsapi.pw
        expect(os.system(f"umount {mnt}") == 0, "not mounted by the create")
        base = f"/nodes/{n.name}/storage/cifsapi/content"
        r = n.post(base, {"vmid": 100, "filename": "vm-100-disk-0.raw", "size": "1M"})
        expect(r.status == 200 and r.data == "cifsapi:100/vm-100-disk-0.raw", r)
        expect(os.path.exists(os.path.join(env["DIR"], "images/100/vm-100-disk-0.raw")), "not on server")
        r = n.request("DELETE", f"{base}/cifsapi:100%2Fvm-100-disk-0.raw")
        expect(r.status == 200, r)
        n.wait_task(r.data)
    finally:
        n.request("DELETE", "/storage/cifsapi")
        os.system(f"umount {mnt} 2>/dev/null")


@case
def cifs_options_over_api(n):
    """domain, smbversion and subdir as Proxmox has them: checked by the route, kept in storage.cfg."""
    base = {"type": "cifs", "server": "127.0.0.1", "share": "s", "disable": 1}
    for params, param in [({"smbversion": "1.0"}, "smbversion"), ({"subdir": "rel"}, "subdir"),
                          ({"domain": "x" * 300}, "domain")]:
        r = n.post("/storage", dict(base, storage="cifsbad", **params))
        expect(r.status == 400 and param in (r.json.get("errors") or {}), (params, r))
    expect(n.get("/storage/cifsbad").status == 500, "cifsbad saved")
    r = n.post("/storage", dict(base, storage="cifsopt", smbversion="3.11", subdir="/a/b",
                                domain="WORKGROUP", username="u"))
    expect(r.status == 200, r)
    r = n.get("/storage/cifsopt")
    expect(r.status == 200 and r.data.get("smbversion") == "3.11" and r.data.get("subdir") == "/a/b"
           and r.data.get("domain") == "WORKGROUP", r)
    r = n.request("PUT", "/storage/cifsopt", {"smbversion": "default", "delete": "subdir"})
    expect(r.status == 200, r)
    r = n.get("/storage/cifsopt")
    expect(r.data.get("smbversion") == "default" and "subdir" not in r.data, r)
    expect(n.request("DELETE", "/storage/cifsopt").status == 200, "delete")
    # iscsidirect: a type of its own, portal and target required
    r = n.post("/storage", {"storage": "idbad", "type": "iscsidirect", "portal": "127.0.0.1",
                            "disable": 1})
    expect(r.status == 400, r)
    r = n.post("/storage", {"storage": "iddis", "type": "iscsidirect", "portal": "127.0.0.1",
                            "target": "iqn.2026-11.test:x", "disable": 1})
    expect(r.status == 200, r)
    r = n.get(f"/nodes/{n.name}/storage", {"storage": "iddis"})
    expect(r.status == 200 and r.data and r.data[0]["type"] == "iscsidirect"
           and r.data[0]["shared"] == 1 and r.data[0]["active"] == 0, r)
    expect(n.request("DELETE", "/storage/iddis").status == 200, "delete")


@case
def iscsidirect_over_api(n):
    portal, target = os.environ.get("PVE_TEST_ISCSI_PORTAL"), os.environ.get("PVE_TEST_ISCSI_TARGET")
    if not (portal and target):
        raise Skip("no iSCSI target named by PVE_TEST_* (the lab test sets them)")
    r = n.post("/storage", {"storage": "idapi", "type": "iscsidirect", "portal": portal,
                            "target": target})
    expect(r.status == 200, r)
    try:
        r = n.get(f"/nodes/{n.name}/storage/idapi/status")
        expect(r.status == 200 and r.data.get("active") == 1 and r.data.get("total", 0) > 0, r)
        r = n.get(f"/nodes/{n.name}/storage/idapi/content")
        expect(r.status == 200 and [x["volid"] for x in r.data] == ["idapi:lun1"], r)
        size = int(os.environ.get("PVE_TEST_ISCSI_LUN_SIZE", "0"))
        expect(r.data and r.data[0]["size"] == size and r.data[0]["format"] == "raw", r)
        # A LUN is addressed by its own kind of name, as a volid and as a name on the storage.
        for vol in ("idapi:lun1", "lun1"):
            r = n.get(f"/nodes/{n.name}/storage/idapi/content/{vol}")
            expect(r.status == 200 and r.data.get("size") == size and r.data.get("format") == "raw", r)
        r = n.get(f"/nodes/{n.name}/storage/idapi/content/idapi:100%2Fvm-100-disk-0.raw")
        expect(r.status == 400 and "unable to parse" in text(r), r)
        # As Proxmox: the delete is a task, which refuses.
        r = n.request("DELETE", f"/nodes/{n.name}/storage/idapi/content/idapi:lun1")
        expect(r.status == 200, r)
        st = n.wait_task(r.data, timeout=120)
        expect(st.get("exitstatus", "").startswith("can't free space in iscsi storage"), st)
        r = n.post(f"/nodes/{n.name}/storage/idapi/content", {"vmid": 100, "filename": "vm-100-disk-0",
                                                               "size": "1M"})
        expect(r.status >= 400 and "can't allocate space in iscsi storage" in text(r), r)
    finally:
        n.request("DELETE", "/storage/idapi")


def main():
    if os.geteuid() != 0:
        print("skip integration-scan: needs root")
        return 0
    # pved's first start makes its keys: slow in the lab's emulated CPU, which sets a longer limit
    n = Node()
    try:
        n.start(timeout=int(os.environ.get("PVED_START_TIMEOUT", "20")))
        n.login()
        return run(n)
    finally:
        n.__exit__(None, None, None)


if __name__ == "__main__":
    sys.exit(main())
