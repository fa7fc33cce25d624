"""Answers as Proxmox gives them, for the calls clients written for Proxmox make: the login's `cap`
(compute_api_permission: per area, the privileges a user holds there), GET query-url-metadata (bpg's
download_file asks it first; file:// URLs here), a task log with download=1 (the file itself, gzip over
1 KiB, named task-NODE-TYPE-TIME.log), download-url with compression (gz, lzo, zst: zcat, lzop, zstd
as Proxmox runs them) and over a file with the same checksum (kept, as Proxmox does), GET /storage's
type filter with every type Proxmox knows, and password changes of @pam users (chpasswd, on a
throwaway system user the test creates and removes). Needs root."""

import gzip
import hashlib
import json
import os
import pwd
import shutil
import subprocess
import sys
import time
import urllib.parse

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from pvetest import Skip, case, expect, node_main  # noqa: E402


def task_status(n, upid):
    return n.wait_task(upid)["exitstatus"]


def iso_dir(n):
    return n.path("var/lib/vz/template/iso")


@case
def login_has_cap(n):
    r = n.post("/access/ticket", {"username": "admin@pve", "password": n.admin_password},
               ticket="")
    expect(r.status == 200, r)
    cap = r.data.get("cap")
    expect(isinstance(cap, dict), r.data)
    expect(set(cap) == {"vms", "storage", "access", "nodes", "dc", "sdn", "mapping"}, cap)
    # Administrator on /: each area holds its own kinds of privileges.
    expect(cap["vms"].get("VM.Allocate") == 1 and cap["storage"].get("Datastore.Allocate") == 1,
           cap)
    expect(cap["access"].get("User.Modify") == 1 and cap["nodes"].get("Sys.PowerMgmt") == 1, cap)
    expect(cap["dc"].get("Sys.Audit") == 1 and "VM.Allocate" not in cap["dc"], cap)
    expect("clustername" not in r.data, "a standalone node has no cluster name")
    # A user with PVEVMUser on one guest's pool sees VM privileges only.
    expect(n.post("/access/users", {"userid": "capuser@pve", "password": "cap-user-pw"})
           .status == 200, "user")
    expect(n.request("PUT", "/access/acl", {"path": "/vms/100", "roles": "PVEVMUser",
                                            "users": "capuser@pve"}).status == 200, "acl")
    r = n.post("/access/ticket", {"username": "capuser@pve", "password": "cap-user-pw"}, ticket="")
    cap = r.data["cap"]
    expect(cap["vms"].get("VM.PowerMgmt") == 1 and cap["storage"] == {} and cap["dc"] == {}, cap)
    # A renewal answers it too.
    r = n.post("/access/ticket", {"username": "capuser@pve", "password": r.data["ticket"]},
               ticket="")
    expect(r.status == 200 and r.data["cap"]["vms"].get("VM.PowerMgmt") == 1, r)


@case
def query_url_metadata(n):
    src = n.path("meta-src.iso")
    with open(src, "wb") as f:
        f.write(b"x" * 12345)
    path = f"/nodes/{n.name}/query-url-metadata"
    st, body = n.local_call("GET", path, {"url": "file://" + src})
    expect(st == 200, body)
    expect(body["data"] == {"filename": "meta-src.iso", "size": 12345,
                            "mimetype": "application/x-iso9660-image"}, body)
    st, body = n.local_call("GET", path, {"url": "file:///nonexistent/x.iso"})
    expect(st == 500 and "does not exist" in body["message"], body)
    # Not root@pam: a file:// URL reads any file, as download-url refuses it too.
    r = n.get(path, {"url": "file://" + src})
    expect(r.status == 403, r)
    r = n.get(path, {"url": "ftp://example.com/x.iso"})
    expect(r.status == 400 and "url" in json.loads(r.body).get("errors", {}), r)


def compress(kind, src, dst):
    tool = {"gz": ["gzip", "-c"], "lzo": ["lzop", "-c"], "zst": ["zstd", "-q", "-c"]}[kind]
    if not shutil.which(tool[0]):
        raise Skip(f"{tool[0]} is not installed (tools/setup-deps)")
    with open(dst, "wb") as out:
        subprocess.run(tool + [src], stdout=out, check=True)


@case
def download_url_compressed(n):
    raw = n.path("plain.iso")
    data = os.urandom(300000) + b"\0" * 700000
    with open(raw, "wb") as f:
        f.write(data)
    base = f"/nodes/{n.name}/storage/local/download-url"
    for kind in ("gz", "lzo", "zst"):
        comp = n.path(f"plain.iso.{kind}")
        compress(kind, raw, comp)
        with open(comp, "rb") as f:
            digest = hashlib.sha256(f.read()).hexdigest()
        st, body = n.local_call("POST", base, {
            "url": "file://" + comp, "content": "iso", "filename": f"unpacked-{kind}.iso",
            "compression": kind, "checksum": digest, "checksum-algorithm": "sha256"})
        expect(st == 200, body)
        expect(task_status(n, body["data"]) == "OK", body)
        with open(os.path.join(iso_dir(n), f"unpacked-{kind}.iso"), "rb") as f:
            expect(f.read() == data, f"{kind}: content differs")
    # The same download again: the file there has the checksum, so it is kept (Proxmox: "OK, got
    # correct file already").
    comp = n.path("plain.iso.gz")
    with open(comp, "rb") as f:
        digest = hashlib.sha256(f.read()).hexdigest()
    want = hashlib.sha256(data).hexdigest()
    st, body = n.local_call("POST", base, {"url": "file://" + raw, "content": "iso",
                                            "filename": "unpacked-gz.iso", "checksum": want,
                                            "checksum-algorithm": "sha256"})
    expect(st == 200 and task_status(n, body["data"]) == "OK", body)
    # A vztmpl is not decompressed (Proxmox: iso only).
    st, body = n.local_call("POST", base, {"url": "file://" + comp, "content": "vztmpl",
                                            "filename": "t.tar.gz", "compression": "gz"})
    expect(st == 200, body)
    status = task_status(n, body["data"])
    expect(status == "decompression not supported for vztmpl", status)


@case
def task_log_download(n):
    # A task with a log over 1 KiB (gzip) and one under it (plain).
    src = n.path("log-src.iso")
    with open(src, "wb") as f:
        f.write(b"y" * 1000)
    st, body = n.local_call("POST", f"/nodes/{n.name}/storage/local/download-url",
                          {"url": "file://" + src, "content": "iso", "filename": "log-src.iso"})
    expect(st == 200, body)
    upid = body["data"]
    n.wait_task(upid)
    logfile = None
    for root, _, files in os.walk(n.path("var/log/pve/tasks")):
        for fn in files:
            if fn == upid:
                logfile = os.path.join(root, fn)
    expect(logfile, "task log file not found")
    with open(logfile, "rb") as f:
        want = f.read()
    path = f"/nodes/{n.name}/tasks/{urllib.parse.quote(upid, safe='')}/log"
    c = n.connection()
    hdrs = {"Cookie": "PVEAuthCookie=" + urllib.parse.quote(n.ticket, safe="")}
    c.request("GET", "/api2/json" + path + "?download=1", headers=hdrs)
    r = c.getresponse()
    got = r.read()
    c.close()
    expect(r.status == 200, (r.status, r.reason))
    expect(r.getheader("Content-Type", "").startswith("text/plain"), r.getheaders())
    start = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(int(upid.split(":")[4], 16)))
    expect(r.getheader("Content-Disposition") ==
           f'attachment; filename="task-{n.name}-download-{start}.log"', r.getheaders())
    if len(want) > 1024:
        expect(r.getheader("Content-Encoding") == "gzip", r.getheaders())
        got = gzip.decompress(got)
    else:
        expect(r.getheader("Content-Encoding") is None, r.getheaders())
    expect(got == want, (got, want))
    # A longer log goes gzip-encoded, whatever the client asked.
    with open(logfile, "ab") as f:
        f.write(b"more output\n" * 200)
    with open(logfile, "rb") as f:
        want = f.read()
    c = n.connection()
    c.request("GET", "/api2/json" + path + "?download=1", headers=hdrs)
    r = c.getresponse()
    got = r.read()
    c.close()
    expect(r.status == 200 and r.getheader("Content-Encoding") == "gzip", r.getheaders())
    expect(gzip.decompress(got) == want, "gzip body differs")
    r = n.get(path, {"download": 1, "start": 2})
    expect(r.status == 500 and "cannot be used together" in r.reason, r)


@case
def storage_type_filter(n):
    for t in ("iscsidirect", "rbd", "pbs"):
        r = n.get("/storage", {"type": t})
        expect(r.status == 200 and r.data == [], (t, r))
    r = n.get("/storage", {"type": "dir"})
    expect(r.status == 200 and [s["storage"] for s in r.data] == ["local"], r)


def pam_login(n, user, password):
    return n.post("/access/ticket", {"username": user, "password": password}, ticket="")


@case
def pam_password_change(n):
    if not shutil.which("useradd") or not os.path.exists("/etc/pam.d/pved"):
        raise Skip("useradd or the pved PAM service is missing (tools/setup-deps)")
    name = f"pvedpw{os.getpid() % 100000}"
    try:
        pwd.getpwnam(name)
        raise Skip(f"system user {name} exists")
    except KeyError:
        pass
    subprocess.run(["useradd", "--no-create-home", "--shell", "/usr/sbin/nologin", name],
                   check=True)
    try:
        userid = f"{name}@pam"
        # Created with a password: the system user gets it (Proxmox's usermod; chpasswd here).
        st, body = n.local_call("POST", "/access/users", {"userid": userid,
                                                           "password": "first-pass-1"})
        expect(st == 200, body)
        expect(pam_login(n, userid, "first-pass-1").status == 200, "login with the first password")
        # root@pam changes it.
        st, body = n.local_call("PUT", "/access/password", {"userid": userid,
                                                            "password": "second-pass-2"})
        expect(st == 200, body)
        expect(pam_login(n, userid, "first-pass-1").status == 401, "old password still works")
        r = pam_login(n, userid, "second-pass-2")
        expect(r.status == 200, r)
        # The user changes its own, confirming with the current one.
        ticket, csrf = r.data["ticket"], r.data["CSRFPreventionToken"]
        r = n.request("PUT", "/access/password", {"userid": userid, "password": "third-pass-3",
                                                  "confirmation-password": "second-pass-2"},
                      ticket=ticket, csrf=csrf)
        expect(r.status == 200, r)
        expect(pam_login(n, userid, "third-pass-3").status == 200, "own change")
        # Another (non-root) administrator may not change a system user's password.
        r = n.request("PUT", "/access/password", {"userid": userid, "password": "fourth-pass-4",
                                                  "confirmation-password": n.admin_password})
        expect(r.status == 403, r)
        expect(pam_login(n, userid, "third-pass-3").status == 200, "changed by a non-root")
        # A system user that does not exist: chpasswd fails, named as Proxmox names it.
        st, body = n.local_call("POST", "/access/users", {"userid": "nosuchsysuser@pam",
                                                           "password": "whatever-1"})
        expect(st == 500 and body["message"].startswith("create user failed: change password "
                                                        "failed"), body)
    finally:
        subprocess.run(["userdel", name], check=False)


if __name__ == "__main__":
    sys.exit(node_main())
