"""Storage over the API on a real pved: /storage CRUD, node storage status, content allocate, list, attributes
and delete (as an imgdel task), and bad input answered with 400 naming the parameter and nothing changed.
Needs root and qemu-img."""

import os
import sys
import urllib.parse

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from pvetest import Node, case, expect, run  # noqa: E402


def q(s):
    return urllib.parse.quote(s, safe="")


def vol(n, method, base, volid, params=None):
    """A call on .../content/{volume}; the volume ID holds '/', which the route's {volume} takes,
    whether the client encodes it (%2F) or not: a GET is asked both ways and must agree."""
    r = n.request(method, f"{base}/{q(volid)}", params)
    expect(r.status != 501, f"{method} {volid}: {r}")
    if method == "GET":
        raw = n.request(method, f"{base}/{urllib.parse.quote(volid, safe='/:')}", params)
        expect(raw.status == r.status and raw.data == r.data, f"raw '/' differs: {raw} vs {r}")
    return r


def tree(top):
    return sorted(os.path.join(d, f) for d, dirs, files in os.walk(top) for f in dirs + files)


def cfg_text(n):
    with open(n.path("etc/pve/storage.cfg")) as f:
        return f.read()


@case
def local_storage_listed(n):
    r = n.get("/storage")
    expect(r.status == 200, r)
    local = [s for s in r.data if s["storage"] == "local"]
    expect(local and local[0]["type"] == "dir" and local[0]["path"] == n.path("var/lib/vz"), r.data)
    expect(len(local[0]["digest"]) == 40, local)
    r = n.get(f"/nodes/{n.name}/storage")
    expect(r.status == 200, r)
    local = [s for s in r.data if s["storage"] == "local"][0]
    expect(local["active"] == 1 and local["enabled"] == 1 and local["total"] > 0, local)
    expect(0 <= local["used_fraction"] <= 1, local)
    expect(set(local["content"].split(",")) == {"iso", "vztmpl", "backup", "images", "rootdir"}, local)
    r = n.get(f"/nodes/{n.name}/storage/local/status")
    expect(r.status == 200 and r.data["type"] == "dir" and r.data["avail"] > 0, r)
    r = n.get(f"/nodes/{n.name}/storage/local")
    expect(r.status == 200 and {"subdir": "content"} in r.data and {"subdir": "status"} in r.data, r)


@case
def storage_crud(n):
    path = n.path("srv/store1")
    r = n.post("/storage", {"storage": "store1", "type": "dir", "path": path, "content": "images,iso",
                            "shared": 0})
    expect(r.status == 200 and r.data == {"storage": "store1", "type": "dir"}, r)
    expect(os.path.isdir(os.path.join(path, "images")) and os.path.isdir(os.path.join(path, "template/iso")),
           "subdirectories not created")
    expect("dir: store1\n" in cfg_text(n), cfg_text(n))
    r = n.post("/storage", {"storage": "store1", "type": "dir", "path": path})
    expect(r.status >= 400 and "already defined" in r.body, r)
    r = n.get("/storage/store1")
    expect(r.status == 200 and r.data["content"] == "images,iso" and r.data["shared"] == 0, r)
    digest = r.data["digest"]
    r = n.get("/storage", {"type": "lvm"})
    expect(r.status == 200 and r.data == [], r)

    r = n.request("PUT", "/storage/store1", {"content": "images,iso,backup", "delete": "shared",
                                             "digest": digest})
    expect(r.status == 200, r)
    r = n.get("/storage/store1")
    expect(r.data["content"] == "backup,images,iso" and "shared" not in r.data, r)
    # a stale digest changes nothing
    before = cfg_text(n)
    r = n.request("PUT", "/storage/store1", {"disable": 1, "digest": digest})
    expect(r.status >= 400 and "digest" in r.body, r)
    expect(cfg_text(n) == before, "changed by a stale digest")
    r = n.request("PUT", "/storage/store1", {"delete": "path"})
    expect(r.status == 500 and r.reason == "update storage failed: unable to delete required "
           "option 'path'", r)

    r = n.request("DELETE", "/storage/store1")
    expect(r.status == 200, r)
    expect("store1" not in cfg_text(n), cfg_text(n))
    r = n.get("/storage/store1")
    expect(r.status == 500 and r.reason == "storage 'store1' does not exist", r)


@case
def storage_bad_input(n):
    before = cfg_text(n)
    for params, bad in [
        ({"storage": "x1", "type": "dir"}, "path"),
        ({"storage": "x1", "type": "dir", "path": "/tmp/x1", "content": "images,bogus"}, "content"),
        ({"storage": "x1", "type": "lvm", "vgname": "pve", "content": "iso"}, "content"),
        ({"storage": "x1", "type": "nope", "path": "/tmp/x1"}, "type"),
        ({"storage": "1bad", "type": "dir", "path": "/tmp/x1"}, "storage"),
        ({"storage": "x1", "type": "dir", "path": "relative"}, "path"),
        ({"storage": "x1", "type": "dir", "path": "/tmp/x1", "format": "qed"}, "format"),
        ({"storage": "x1", "type": "lvm", "vgname": "pve", "snapshot-as-volume-chain": 1},
         "snapshot-as-volume-chain"),
        ({"storage": "x1", "type": "lvm", "vgname": "pve", "saferemove-stepsize": "3"},
         "saferemove-stepsize"),
        ({"storage": "x1", "type": "dir", "path": "/tmp/x1", "nocow": 1}, "nocow"),
    ]:
        r = n.post("/storage", params)
        expect(r.status == 400, (params, r))
        expect(bad in (r.json.get("errors") or {}), (params, r))
    expect(cfg_text(n) == before, "storage.cfg changed by bad input")
    r = n.post("/storage", {"storage": "nomk", "type": "dir", "path": n.path("srv/missing"), "mkdir": 0})
    expect(r.status >= 400 and "does not exist" in r.body, r)
    expect(cfg_text(n) == before, "storage.cfg changed by a failed activation")


@case
def lvm_base(n):
    """An lvm storage on an iSCSI LUN (base): bad bases are 400s naming base, a disabled base storage
    is refused when the VG would be made on it, and a storage used as a base can't be removed. The
    LUN itself (login, the VG made) needs a target: tests/storage/lab-storage-lvm-base.sh."""
    r = n.post("/storage", {"storage": "isc", "type": "iscsi", "portal": "127.0.0.1",
                            "target": "iqn.2026-11.org.pved.test:none", "disable": 1})
    expect(r.status == 200, r)
    before = cfg_text(n)
    lvm = {"storage": "lb", "type": "lvm", "vgname": "lbvg"}
    for base, msg in [
        ("nocolon", "unable to parse volume ID 'nocolon'"),
        ("nosuch:0.0.1.scsi-x", "base storage ID 'nosuch' does not exist"),
        ("local:0.0.1.scsi-x", "unsupported base type 'dir'"),
        ("isc:lun1", "unable to parse iscsi volume name 'lun1'"),
    ]:
        r = n.post("/storage", dict(lvm, base=base))
        expect(r.status == 400 and msg in (r.json.get("errors") or {}).get("base", ""),
               (base, r))
    r = n.request("PUT", "/storage/isc", {"base": "isc:0.0.1.scsi-x"})
    expect(r.status == 400 and "base" in (r.json.get("errors") or {}), r)
    r = n.post("/storage", dict(lvm, base="isc:0.0.1.scsi-x"))
    expect(r.status == 500 and r.reason == "create storage failed: storage 'isc' is disabled", r)
    expect(cfg_text(n) == before, "storage.cfg changed by a refused base")

    # a storage.cfg written elsewhere (another node made the VG): the iscsi storage is its base
    with open(n.path("etc/pve/storage.cfg"), "a") as f:
        f.write("\nlvm: lb\n\tvgname lbvg\n\tbase isc:0.0.1.scsi-x\n\tdisable 1\n")
    r = n.get("/storage/lb")
    expect(r.status == 200 and r.data.get("base") == "isc:0.0.1.scsi-x", r)
    r = n.request("PUT", "/storage/lb", {"delete": "base"})
    expect(r.status == 500 and r.reason == "update storage failed: unable to delete fixed option "
           "'base'", r)
    r = n.request("DELETE", "/storage/isc")
    expect(r.status == 500 and r.reason == "delete storage failed: can't remove storage - storage is "
           "used as base of another storage", r)
    expect("iscsi: isc" in cfg_text(n), cfg_text(n))
    expect(n.request("DELETE", "/storage/lb").status == 200, "lb not deleted")
    expect(n.request("DELETE", "/storage/isc").status == 200, "isc not deleted")
    expect("iscsi: isc" not in cfg_text(n) and "lvm: lb" not in cfg_text(n), cfg_text(n))


@case
def content_alloc_list_delete(n):
    base = f"/nodes/{n.name}/storage/local/content"
    r = n.post(base, {"vmid": 100, "filename": "vm-100-disk-0.qcow2", "size": "1M"})
    expect(r.status == 200 and r.data == "local:100/vm-100-disk-0.qcow2", r)
    r = n.post(base, {"vmid": 100, "filename": "vm-100-disk-1", "size": "2048", "format": "raw"})
    expect(r.status == 200 and r.data == "local:100/vm-100-disk-1.raw", r)
    img = n.path("var/lib/vz/images/100/vm-100-disk-1.raw")
    expect(os.path.getsize(img) == 2048 * 1024, os.path.getsize(img))
    r = n.get(base, {"vmid": 100})
    expect(r.status == 200, r)
    vols = {v["volid"]: v for v in r.data}
    expect(set(vols) == {"local:100/vm-100-disk-0.qcow2", "local:100/vm-100-disk-1.raw"}, vols)
    q2 = vols["local:100/vm-100-disk-0.qcow2"]
    expect(q2["format"] == "qcow2" and q2["size"] == 1 << 20 and q2["vmid"] == 100 and q2["content"] == "images", q2)
    r = n.get(base, {"content": "iso"})
    expect(r.status == 200 and r.data == [], r)

    r = vol(n, "GET", base, "local:100/vm-100-disk-0.qcow2")
    expect(r.status == 200 and r.data["format"] == "qcow2" and r.data["size"] == 1 << 20, r)
    expect(r.data["path"] == n.path("var/lib/vz/images/100/vm-100-disk-0.qcow2"), r)

    # a backup's notes and protection
    dump = n.path("var/lib/vz/dump")
    os.makedirs(dump, exist_ok=True)
    name = "vzdump-qemu-100-2025_01_01-00_00_00.vma.zst"
    with open(os.path.join(dump, name), "wb") as f:
        f.write(b"x" * 10)
    volid = f"local:backup/{name}"
    r = vol(n, "PUT", base, volid, {"notes": "before upgrade", "protected": 1})
    expect(r.status == 200, r)
    r = n.get(base, {"content": "backup"})
    expect(r.data and r.data[0]["notes"] == "before upgrade" and r.data[0]["protected"] == 1, r)
    r = vol(n, "DELETE", base, volid)
    expect(r.status >= 400 and "protected" in r.body, r)
    expect(os.path.exists(os.path.join(dump, name)), "protected backup removed")
    r = vol(n, "PUT", base, volid, {"protected": 0})
    expect(r.status == 200, r)

    for v in ["local:100/vm-100-disk-0.qcow2", "local:100/vm-100-disk-1.raw", volid]:
        r = vol(n, "DELETE", base, v)
        expect(r.status == 200 and r.data.startswith("UPID:") and ":imgdel:" in r.data, r)
        t = n.wait_task(r.data)
        expect(t["exitstatus"] == "OK", t)
    r = n.get(base, {"vmid": 100})
    expect(r.status == 200 and r.data == [], r)
    expect(not os.path.exists(img), "image still there")


@case
def content_bad_input(n):
    base = f"/nodes/{n.name}/storage/local/content"
    n.get(base)  # activation creates the subdirectories: before the snapshot
    listing = tree(n.path("var/lib/vz"))
    for params, bad in [
        ({"vmid": 100, "filename": "vm-101-disk-0.raw", "size": "1M"}, "filename"),
        ({"vmid": 100, "filename": "vm-100-disk-0.qcow2", "size": "1M", "format": "raw"}, "format"),
        ({"vmid": 100, "filename": "vm-100-../../../etc/x.raw", "size": "1M"}, "filename"),
        ({"vmid": 100, "filename": "vm-100-disk-0", "size": "1T"}, "size"),
        ({"vmid": 99, "filename": "vm-99-disk-0", "size": "1M"}, "vmid"),
        ({"vmid": 100, "filename": "vm-100-disk-0", "size": "1M", "format": "qed"}, "format"),
    ]:
        r = n.post(base, params)
        expect(r.status == 400, (params, r))
        expect(bad in (r.json.get("errors") or {}), (params, r))
    expect(tree(n.path("var/lib/vz")) == listing, "files changed by bad input")

    r = n.get(f"/nodes/{n.name}/storage/nope/content")
    expect(r.status == 500 and r.reason == "storage 'nope' does not exist", r)
    # a storage that does not hold images
    path = n.path("srv/isos")
    r = n.post("/storage", {"storage": "isos", "type": "dir", "path": path, "content": "iso"})
    expect(r.status == 200, r)
    r = n.post(f"/nodes/{n.name}/storage/isos/content", {"vmid": 100, "filename": "vm-100-disk-0", "size": "1M"})
    expect(r.status == 400 and "does not support content type 'images'" in r.body, r)
    expect(not os.path.exists(os.path.join(path, "images/100")), "image dir created")
    n.request("DELETE", "/storage/isos")

    for v in ["local:../../etc/passwd", "local:iso/../../x.iso", "other:iso/x.iso", "local:/etc/passwd"]:
        r = vol(n, "DELETE", base, v)
        expect(r.status == 400 and "volume" in (r.json.get("errors") or {}), (v, r))
    r = vol(n, "DELETE", base, "local:iso/missing.iso")
    expect(r.status == 404, r)


def main():
    if os.geteuid() != 0:
        print("skip integration-storage: needs root")
        return 0
    with Node() as n:
        n.login()
        return run(n)


if __name__ == "__main__":
    sys.exit(main())
