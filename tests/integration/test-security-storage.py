"""Storage security on a real pved: a single volume (GET, PUT, DELETE of .../content/{volume}) and the
listing follow Proxmox's check_volume_access (a PVEDatastoreUser neither sees nor changes another guest's
backup, VM.Backup on the guest or Datastore.Allocate on the storage opens it); a storage path at a root,
inside etc/pve or at a system directory is refused with a 400 naming `path` and nothing is created; and a
store lock left by a pved killed mid-edit (kill -9) is cleared at the next start, so storage.cfg edits work
at once. Needs root."""

import os
import signal
import socket
import sys
import threading
import time
import urllib.parse

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from pvetest import Node, case, children_of, expect, is_zombie, node_main  # noqa: E402

PASSWORD = "storage-sec-1"
BACKUP = "vzdump-qemu-100-2025_01_01-00_00_00.vma.zst"
BACKUP_VOLID = f"local:backup/{BACKUP}"
DISK_VOLID = "local:100/vm-100-disk-0.raw"
ISO_VOLID = "local:iso/shared.iso"


def q(s):
    return urllib.parse.quote(s, safe="")


def as_user(n, userid):
    other = Node.__new__(Node)
    other.__dict__.update(n.__dict__)
    other.ticket = other.csrf = None
    other.login(userid, PASSWORD)
    return other


def add_user(n, userid, *acls):
    r = n.post("/access/users", {"userid": userid, "password": PASSWORD})
    expect(r.status == 200, r)
    for path, role in acls:
        grant(n, userid, path, role)


def grant(n, userid, path, role):
    r = n.request("PUT", "/access/acl", {"path": path, "roles": role, "users": userid})
    expect(r.status == 200, r)


def content(n):
    return f"/nodes/{n.name}/storage/local/content"


def listed(u, n):
    r = u.get(content(n))
    expect(r.status == 200, r)
    return {v["volid"] for v in r.data}


def setup_volumes(n):
    dump = n.path("var/lib/vz/dump")
    os.makedirs(dump, exist_ok=True)
    with open(os.path.join(dump, BACKUP), "wb") as f:
        f.write(b"x" * 4096)
    with open(os.path.join(dump, BACKUP + ".notes"), "w") as f:
        f.write("guest 100, before the upgrade")
    os.makedirs(n.path("var/lib/vz/images/100"), exist_ok=True)
    with open(n.path("var/lib/vz/images/100/vm-100-disk-0.raw"), "wb") as f:
        f.truncate(1 << 20)
    os.makedirs(n.path("var/lib/vz/template/iso"), exist_ok=True)
    with open(n.path("var/lib/vz/template/iso/shared.iso"), "wb") as f:
        f.write(b"\0" * 2048)
    r = n.post("/access/roles", {"roleid": "BackupOnly", "privs": "VM.Backup"})
    expect(r.status == 200, r)


def backup_state(n):
    p = n.path("var/lib/vz/dump/" + BACKUP)
    with open(p + ".notes") as f:
        notes = f.read()
    return notes, os.path.exists(p + ".protected")


@case
def datastore_user_cannot_touch_another_guests_backup(n):
    setup_volumes(n)
    # PVEDatastoreUser on the storage, and only VM.Audit on guest 100.
    add_user(n, "dsuser@pve", ("/storage/local", "PVEDatastoreUser"), ("/vms/100", "PVEAuditor"))
    u = as_user(n, "dsuser@pve")
    before = backup_state(n)
    got = listed(u, n)
    expect(ISO_VOLID in got and BACKUP_VOLID not in got and DISK_VOLID not in got, got)
    for volid in (BACKUP_VOLID, DISK_VOLID):
        r = u.get(f"{content(n)}/{q(volid)}")
        expect(r.status == 403 and "path" not in (r.data or {}), (volid, r))
    r = u.get(f"{content(n)}/{q(ISO_VOLID)}")
    expect(r.status == 200 and r.data["size"] == 2048, r)
    for params in ({"protected": 0}, {"protected": 1}, {"notes": "mine now"}):
        r = u.request("PUT", f"{content(n)}/{q(BACKUP_VOLID)}", params)
        expect(r.status == 403, (params, r))
    r = u.request("DELETE", f"{content(n)}/{q(BACKUP_VOLID)}")
    expect(r.status == 403, r)
    expect(backup_state(n) == before, f"the backup changed: {backup_state(n)} != {before}")


@case
def vm_backup_on_the_guest_opens_its_backup(n):
    grant(n, "dsuser@pve", "/vms/100", "BackupOnly")
    u = as_user(n, "dsuser@pve")
    got = listed(u, n)
    expect(BACKUP_VOLID in got and DISK_VOLID not in got, got)
    r = u.get(f"{content(n)}/{q(BACKUP_VOLID)}")
    expect(r.status == 200 and r.data["size"] == 4096 and r.data["notes"], r)
    r = u.request("PUT", f"{content(n)}/{q(BACKUP_VOLID)}", {"protected": 1, "notes": "kept"})
    expect(r.status == 200, r)
    expect(backup_state(n) == ("kept", True), backup_state(n))
    r = u.request("PUT", f"{content(n)}/{q(BACKUP_VOLID)}", {"protected": 0})
    expect(r.status == 200 and backup_state(n) == ("kept", False), (r, backup_state(n)))
    # The guest's disk needs VM.Config.Disk, which VM.Backup is not.
    r = u.get(f"{content(n)}/{q(DISK_VOLID)}")
    expect(r.status == 403, r)


@case
def datastore_allocate_opens_every_volume(n):
    add_user(n, "dsadmin@pve", ("/storage/local", "PVEDatastoreAdmin"))
    u = as_user(n, "dsadmin@pve")
    got = listed(u, n)
    expect({BACKUP_VOLID, DISK_VOLID, ISO_VOLID} <= got, got)
    for volid in (BACKUP_VOLID, DISK_VOLID):
        r = u.get(f"{content(n)}/{q(volid)}")
        expect(r.status == 200 and r.data["path"].startswith(n.path("var/lib/vz/")), (volid, r))
    r = u.request("PUT", f"{content(n)}/{q(BACKUP_VOLID)}", {"notes": "by the datastore admin"})
    expect(r.status == 200 and backup_state(n)[0] == "by the datastore admin", r)
    # Deleting a guest's backup is Proxmox's own rule: VM.Backup on the guest, whatever else.
    r = u.request("DELETE", f"{content(n)}/{q(BACKUP_VOLID)}")
    expect(r.status == 403, r)
    expect(os.path.exists(n.path("var/lib/vz/dump/" + BACKUP)), "the backup was removed")


def cfg_digest(n):
    r = n.get("/storage")
    expect(r.status == 200, r)
    return r.data[0]["digest"] if r.data else ""


@case
def storage_paths_refused(n):
    root = n.root.rstrip("/")
    # Paths of the host go with mkdir=0 (and nfs and cifs only below the node's root, with a closed
    # port): a pved that wrongly took one must still not write into the host's system directories.
    host = [("/", "dir"), ("/etc", "dir"), ("/etc/pve", "dir"), ("/usr", "dir"), ("/var", "dir"),
            ("/var/lib", "dir"), ("/boot/grub", "dir"), ("/mnt/x/../../etc", "dir"),
            ("/sys/fs", "btrfs")]
    node = [(root, "dir"), (root + "/", "dir"), (root + "/etc/pve", "dir"),
            (root + "/etc/pve/nodes/x", "dir"), (root + "/var", "dir"), (root + "/run/sec", "dir"),
            (root + "/etc/pve/priv", "btrfs"), (root + "/usr", "nfs"), (root + "/etc/pve/x", "nfs"),
            (root, "cifs"), (root + "/etc/pve", "cifs")]
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        closed = s.getsockname()[1]
    extra = {"nfs": {"server": "127.0.0.1", "export": "/srv", "options": f"port={closed}"},
             "cifs": {"server": "127.0.0.1", "share": "s", "options": f"port={closed}"}}
    digest = cfg_digest(n)
    for i, (path, typ) in enumerate(host + node):
        existed = os.path.exists(path)
        before = sorted(os.listdir(path)) if existed and os.path.isdir(path) else None
        params = dict({"storage": f"bad{i}", "type": typ, "path": path}, **extra.get(typ, {}))
        if (path, typ) in host and typ == "dir":
            params["mkdir"] = 0
        r = n.post("/storage", params)
        expect(r.status == 400 and "path" in (r.json.get("errors") or {}), (typ, path, r))
        expect(os.path.exists(path) == existed, f"{path} was created")
        if before is not None:
            expect(sorted(os.listdir(path)) == before, f"something was made in {path}")
    expect(cfg_digest(n) == digest, "storage.cfg changed")
    # A fine path is fine; an update cannot move a storage (path is fixed, as in Proxmox).
    good = n.path("srv/secpath")
    r = n.post("/storage", {"storage": "secpath", "type": "dir", "path": good})
    expect(r.status == 200 and os.path.isdir(os.path.join(good, "images")), r)
    digest = cfg_digest(n)
    for path in ("/etc", root + "/etc/pve"):
        r = n.request("PUT", "/storage/secpath", {"path": path})
        expect(r.status == 400 and "path" in (r.json.get("errors") or {}), (path, r))
    expect(cfg_digest(n) == digest, "storage.cfg changed by a refused update")
    expect(n.request("DELETE", "/storage/secpath").status == 200, "delete")


def starttime_of(pid):
    with open(f"/proc/{pid}/stat") as f:
        return int(f.read().rsplit(")", 1)[1].split()[19])


def kill9(n):
    """SIGKILL pved as a crash would, then wait until it and its fronts are gone (by their PIDs)."""
    fronts = children_of(n.proc.pid)
    n.proc.send_signal(signal.SIGKILL)
    n.proc.wait()
    deadline = time.time() + 10
    for pid in fronts:
        while time.time() < deadline and os.path.exists(f"/proc/{pid}") and not is_zombie(pid):
            time.sleep(0.05)
        if os.path.exists(f"/proc/{pid}") and not is_zombie(pid):
            os.kill(pid, signal.SIGKILL)


@case
def stale_lock_after_kill9(n):
    lockdir = n.path("etc/pve/priv/lock/file-storage_cfg")
    # A server that takes the connection and never answers: pved probes it while it holds
    # storage.cfg's lock (up to 3 s), and is killed meanwhile.
    silent = socket.socket()
    silent.bind(("127.0.0.1", 0))
    silent.listen(4)
    port = silent.getsockname()[1]
    result = {}

    def add_nfs():
        try:
            result["r"] = n.post("/storage", {"storage": "killed", "type": "nfs",
                                              "server": "127.0.0.1", "export": "/srv",
                                              "options": f"port={port}"})
        except OSError as e:  # pved is killed before it answers: that is the point
            result["r"] = e

    t = threading.Thread(target=add_nfs)
    try:
        t.start()
        deadline = time.time() + 3
        while not os.path.isdir(lockdir) and time.time() < deadline:
            time.sleep(0.01)
        expect(os.path.isdir(lockdir), "pved never took storage.cfg's lock")
        kill9(n)
        t.join(30)
    finally:
        silent.close()
    expect(os.path.isdir(lockdir), "no lock was left behind")
    # Another lock, of a holder that is alive (this test), must stay.
    live = n.path("etc/pve/priv/lock/file-live")
    os.makedirs(live)
    with open(os.path.join(live, "owner"), "w") as f:
        f.write(f"{'ab' * 16} {os.getpid()} {starttime_of(os.getpid())}\n")
    n.start()
    t0 = time.time()
    r = n.post("/storage", {"storage": "afterkill", "type": "dir", "path": n.path("srv/afterkill")})
    took = time.time() - t0
    expect(r.status == 200, r)
    expect(took < 2, f"POST /storage waited {took:.1f} s for the dead holder's lock")
    expect("cleared the lock 'file-storage_cfg'" in n.logtext(), n.logtext()[-1000:])
    expect(os.path.isdir(live), "the live holder's lock was cleared")
    os.unlink(os.path.join(live, "owner"))
    os.rmdir(live)
    expect(n.request("DELETE", "/storage/afterkill").status == 200, "delete")


if __name__ == "__main__":
    sys.exit(node_main())
