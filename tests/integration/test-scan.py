"""The scan routes (/nodes/{node}/scan/{nfs,cifs,iscsi}) and network storages over the API on a real pved:
the index, bad input answered with 400, an unreachable server answered with an error naming it, and,
where PVE_TEST_* name real servers (tests/storage/lab-storage-net.sh in the lab), the real scans and an
nfs storage added, used and removed through the API. Needs root."""

import os
import sys
import time

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
    for m in ("cifs", "iscsi", "nfs"):
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


@case
def storage_unreachable_nothing_changed(n):
    before = n.get("/storage").data
    mnt = n.path("mnt/pve/nfsdown")
    r = n.post("/storage", {"storage": "nfsdown", "type": "nfs", "server": "127.0.0.1",
                            "export": "/srv", "path": mnt})
    expect(r.status >= 400 and "127.0.0.1" in text(r), r)
    expect(n.get("/storage").data == before, "storage.cfg changed")
    expect(not os.path.exists(mnt), "mount point made")


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
