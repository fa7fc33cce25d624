"""Proxmox's storage suites through pved's API and pvectl (pve-storage src/test): the 7 listings of
list_volumes_test.pm on files made as it makes them (qemu-img, 128 KiB, backing files), the 22 cases
of prune_backups_test.pm on real backup files through GET .../prunebackups, and what the issue lists
beside them: prune tasks (DELETE, permissions, storage.cfg's prune-backups), pvectl storage
prune-backups and path, content-dirs, a backup's log and notes removed with it, and the fields of a
listing. In UTC, as Proxmox's runner. Needs root and qemu-img."""

import os
import shutil
import subprocess
import sys
import urllib.parse

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from pvetest import BIN, Node, Skip, case, expect, run  # noqa: E402

SIZE = 131072


def q(s):
    return urllib.parse.quote(s, safe="")


def ok(r, what):
    expect(r.status == 200, (what, r))
    return r


def add_storage(n, sid, path, content="iso,rootdir,vztmpl,images,snippets,backup", **extra):
    ok(n.post("/storage", dict(extra, storage=sid, type="dir", path=path, content=content)), sid)


def touch(path, data=b""):
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, "wb") as f:
        f.write(data)


def guests(n, lxc=(), qemu=()):
    for kind, ids in (("lxc", lxc), ("qemu-server", qemu)):
        d = n.path(f"etc/pve/nodes/{n.name}/{kind}")
        os.makedirs(d, exist_ok=True)
        for vmid in ids:
            touch(os.path.join(d, f"{vmid}.conf"), b"memory: 512\n")


def pvectl(n, *args):
    return subprocess.run([os.path.join(BIN, "pvectl"), "--root", n.root, *args], capture_output=True,
                          text=True, timeout=60)


# ---- list_volumes_test.pm ----------------------------------------------------------------------------

D = None  # an image's ctime: the file's own (Proxmox's test mocks it as 1234567890)

LIST_CASES = [
    ("VMID: 16110, VM, qcow2, backup, snippets", 16110,
     ["images/16110/vm-16110-disk-0.qcow2", "images/16110/vm-16110-disk-1.raw",
      "images/16110/vm-16110-disk-2.vmdk", "dump/vzdump-qemu-16110-2020_03_30-21_11_40.vma.gz",
      "dump/vzdump-qemu-16110-2020_03_30-21_12_45.vma.lzo", "dump/vzdump-qemu-16110-2020_03_30-21_13_55.vma",
      "dump/vzdump-qemu-16110-2020_03_30-21_13_55.vma.zst", "snippets/userconfig.yaml",
      "snippets/hookscript.pl"], None,
     [("images", D, "qcow2", None, 16110, "local:16110/vm-16110-disk-0.qcow2", None),
      ("images", D, "raw", None, 16110, "local:16110/vm-16110-disk-1.raw", None),
      ("images", D, "vmdk", None, 16110, "local:16110/vm-16110-disk-2.vmdk", None),
      ("backup", 1585602700, "vma.gz", None, 16110,
       "local:backup/vzdump-qemu-16110-2020_03_30-21_11_40.vma.gz", "qemu"),
      ("backup", 1585602765, "vma.lzo", None, 16110,
       "local:backup/vzdump-qemu-16110-2020_03_30-21_12_45.vma.lzo", "qemu"),
      ("backup", 1585602835, "vma", None, 16110, "local:backup/vzdump-qemu-16110-2020_03_30-21_13_55.vma",
       "qemu"),
      ("backup", 1585602835, "vma.zst", None, 16110,
       "local:backup/vzdump-qemu-16110-2020_03_30-21_13_55.vma.zst", "qemu"),
      ("snippets", D, "snippet", None, None, "local:snippets/hookscript.pl", None),
      ("snippets", D, "snippet", None, None, "local:snippets/userconfig.yaml", None)]),
    ("VMID: 16112, lxc, raw, backup", 16112,
     ["images/16112/vm-16112-disk-0.raw", "dump/vzdump-lxc-16112-2020_03_30-21_39_30.tar.lzo",
      "dump/vzdump-lxc-16112-2020_03_30-21_49_30.tar.gz", "dump/vzdump-lxc-16112-2020_03_30-21_49_30.tar.zst",
      "dump/vzdump-lxc-16112-2020_03_30-21_59_30.tgz", "dump/vzdump-openvz-16112-2020_03_30-21_39_30.tar.bz2"],
     None,
     [("rootdir", D, "raw", None, 16112, "local:16112/vm-16112-disk-0.raw", None),
      ("backup", 1585604370, "tar.lzo", None, 16112,
       "local:backup/vzdump-lxc-16112-2020_03_30-21_39_30.tar.lzo", "lxc"),
      ("backup", 1585604970, "tar.gz", None, 16112,
       "local:backup/vzdump-lxc-16112-2020_03_30-21_49_30.tar.gz", "lxc"),
      ("backup", 1585604970, "tar.zst", None, 16112,
       "local:backup/vzdump-lxc-16112-2020_03_30-21_49_30.tar.zst", "lxc"),
      ("backup", 1585605570, "tgz", None, 16112, "local:backup/vzdump-lxc-16112-2020_03_30-21_59_30.tgz",
       "lxc"),
      ("backup", 1585604370, "tar.bz2", None, 16112,
       "local:backup/vzdump-openvz-16112-2020_03_30-21_39_30.tar.bz2", "openvz")]),
    ("VMID: 16114, VM, qcow2, linked clone", 16114,
     ["images/16114/vm-16114-disk-0.qcow2", "images/16114/vm-16114-disk-1.qcow2"],
     ["../9004/base-9004-disk-0.qcow2", "../9004/base-9004-disk-1.qcow2"],
     [("images", D, "qcow2", "../9004/base-9004-disk-0.qcow2", 16114,
       "local:9004/base-9004-disk-0.qcow2/16114/vm-16114-disk-0.qcow2", None),
      ("images", D, "qcow2", "../9004/base-9004-disk-1.qcow2", 16114,
       "local:9004/base-9004-disk-1.qcow2/16114/vm-16114-disk-1.qcow2", None)]),
    ("VMID: 9004, VM, template, qcow2", 9004,
     ["images/9004/base-9004-disk-0.qcow2", "images/9004/base-9004-disk-1.qcow2"], None,
     [("images", D, "qcow2", None, 9004, "local:9004/base-9004-disk-0.qcow2", None),
      ("images", D, "qcow2", None, 9004, "local:9004/base-9004-disk-1.qcow2", None)]),
    ("VMID: none, templates, snippets, backup", None,
     ["dump/vzdump-lxc-19253-2020_02_03-19_57_43.tar.gz", "dump/vzdump-lxc-19254-2019_01_21-19_29_19.tar",
      "template/iso/archlinux-2020.02.01-x86_64.iso", "template/iso/debian-8.11.1-amd64-DVD-1.iso",
      "template/iso/debian-9.12.0-amd64-netinst.iso", "template/iso/proxmox-ve_6.1-1.iso",
      "template/cache/archlinux-base_20190924-1_amd64.tar.gz",
      "template/cache/debian-10.0-standard_10.0-1_amd64.tar.gz",
      "template/cache/debian-11.0-standard_11.0-1_amd64.tar.bz2",
      "template/cache/alpine-3.10-default_20190626_amd64.tar.xz", "snippets/userconfig.yaml",
      "snippets/hookscript.pl", "private/1234/", "private/1234/subvol-1234-disk-0.subvol/"], None,
     [("vztmpl", D, "txz", None, None, "local:vztmpl/alpine-3.10-default_20190626_amd64.tar.xz", None),
      ("vztmpl", D, "tgz", None, None, "local:vztmpl/archlinux-base_20190924-1_amd64.tar.gz", None),
      ("vztmpl", D, "tgz", None, None, "local:vztmpl/debian-10.0-standard_10.0-1_amd64.tar.gz", None),
      ("vztmpl", D, "tbz2", None, None, "local:vztmpl/debian-11.0-standard_11.0-1_amd64.tar.bz2", None),
      ("iso", D, "iso", None, None, "local:iso/archlinux-2020.02.01-x86_64.iso", None),
      ("iso", D, "iso", None, None, "local:iso/debian-8.11.1-amd64-DVD-1.iso", None),
      ("iso", D, "iso", None, None, "local:iso/debian-9.12.0-amd64-netinst.iso", None),
      ("iso", D, "iso", None, None, "local:iso/proxmox-ve_6.1-1.iso", None),
      ("backup", 1580759863, "tar.gz", None, 19253, "local:backup/vzdump-lxc-19253-2020_02_03-19_57_43.tar.gz",
       "lxc"),
      ("backup", 1548098959, "tar", None, 19254, "local:backup/vzdump-lxc-19254-2019_01_21-19_29_19.tar",
       "lxc"),
      ("snippets", D, "snippet", None, None, "local:snippets/hookscript.pl", None),
      ("snippets", D, "snippet", None, None, "local:snippets/userconfig.yaml", None)]),
    ("VMID: none, parent, non-matching", None, ["images/1234/vm-1234-disk-0.qcow2"],
     ["../ssss/base-4321-disk-0.qcow2"],
     [("images", D, "qcow2", "../ssss/base-4321-disk-0.qcow2", 1234, "local:1234/vm-1234-disk-0.qcow2",
       None)]),
    ("VMID: none, non-matching", None,
     ["images/ssss/base-4321-disk-0.raw", "images/ssss/vm-1234-disk-0.qcow2",
      "template/iso/yet-again-a-installation-disk.dvd",
      "template/cache/debian-10.0-standard_10.0-1_amd64.zip.gz", "private/subvol-19254-disk-0/19254",
      "dump/vzdump-openvz-16112-2020_03_30-21_39_30.zip.gz",
      "dump/vzdump-openvz-16112-2020_03_30-21_39_30.tgz.lzo",
      "dump/vzdump-qemu-16110-2020_03_30-21_12_40.vma.xz",
      "dump/vzdump-qemu-16110-2020_03_30-21_12_40.vms.gz"], None, []),
]


def make_files(top, files, parents):
    """As Proxmox's test: qemu-img create FILE 128K, with -f for an image suffix and -u -b PARENT -F
    for a parent; a path ending in '/' is a directory."""
    num = 0
    for f in files:
        p = os.path.join(top, f)
        if f.endswith("/"):
            os.makedirs(p, exist_ok=True)
            continue
        os.makedirs(os.path.dirname(p), exist_ok=True)
        suffix = next((s for s in ("qcow2", "raw", "vmdk", "vhdx") if f.endswith("." + s)), None)
        cmd = ["qemu-img", "create", p, str(SIZE)]
        if suffix:
            cmd += ["-f", suffix]
        if parents:
            cmd += ["-u", "-b", parents[num]]
            if suffix:
                cmd += ["-F", suffix]
        num += 1
        subprocess.run(cmd, check=True, capture_output=True)


@case
def list_volumes_test(n):
    if not shutil.which("qemu-img"):
        raise Skip("no qemu-img")
    # get_vmlist(): 16112 is the container, the others VMs
    guests(n, lxc=[16112], qemu=[16110, 16114, 16113, 16115, 9004])
    failed = []
    for i, (desc, vmid, files, parents, want) in enumerate(LIST_CASES):
        top = n.path(f"srv/lv{i}")
        # Proxmox's storage is "local"; one per case here, its volids compared with the name changed
        sid = f"lv{i}"
        add_storage(n, sid, top)
        make_files(top, files, parents)
        r = ok(n.get(f"/nodes/{n.name}/storage/{sid}/content", {"vmid": vmid} if vmid else None), desc)
        got = sorted(r.data, key=lambda v: v["volid"])
        exp = sorted(want, key=lambda w: w[5].replace("local:", f"{sid}:"))
        if len(got) != len(exp):
            failed.append(f"{desc}: {[v['volid'] for v in got]}")
            continue
        for v, (content, ctime, fmt, parent, owner, volid, subtype) in zip(got, exp):
            volid = volid.replace("local:", f"{sid}:")
            image = content in ("images", "rootdir")
            fields = {"volid": volid, "content": content, "format": fmt, "size": SIZE}
            if ctime is not None:
                fields["ctime"] = ctime
            if owner is not None:
                fields["vmid"] = owner
            if parent is not None:
                fields["parent"] = parent
            if subtype is not None:
                fields["subtype"] = subtype
            bad = {k: v.get(k) for k, val in fields.items() if v.get(k) != val}
            extra = set(v) - set(fields) - {"ctime", "used"}
            if bad or extra or (("used" in v) != image) or "ctime" not in v:
                failed.append(f"{desc}: {v} (differs: {bad}, extra: {extra})")
    expect(not failed, "; ".join(failed))


# ---- prune_backups_test.pm -------------------------------------------------------------------------------

BASETIME = 1577881101  # 2020_01_01-12_18_21 UTC
DAY = 24 * 60 * 60
VMIDS = (1234, 9001)
SID = "backtest123"

DEFAULT = [(f"vzdump-qemu-{{v}}-{t}.tar.zst", c, p) for t, c, p in (
    ("2018_05_26-11_18_21", BASETIME - 585 * DAY - 3600, False),
    ("2019_12_31-11_18_21", BASETIME - DAY - 3600, False),
    ("2019_12_31-11_18_51", BASETIME - DAY - 3600 + 30, True),
    ("2019_12_31-11_19_21", BASETIME - DAY - 3600 + 60, False),
    ("2020_01_01-11_18_21", BASETIME - 3600, False),
    ("2020_01_01-12_18_21", BASETIME, False))] + [
    ("vzdump-lxc-{v}-2020_01_01-12_18_21.tar.zst", BASETIME, False),
    ("vzdump-{v}-renamed.tar.zst", None, False)]

LISTS = {
    "default": [(name.format(v=v), c, p, v) for v in VMIDS for name, c, p in DEFAULT],
    "year1970": [("vzdump-lxc-321-1970_01_01-00_01_23.tar.zst", 83, False, 321),
                 ("vzdump-lxc-321-2070_01_01-00_01_00.tar.zst", 60 * 60 * 24 * (365 * 100 + 25) + 60, False, 321)],
    "novmid": [("vzdump-lxc-novmid.tar.gz", None, False, None)],
    "threeway": [("vzdump-qemu-7654-2019_12_25-12_18_21.tar.zst", BASETIME - 7 * DAY, False, 7654),
                 ("vzdump-qemu-7654-2019_12_31-12_18_21.tar.zst", BASETIME - DAY, False, 7654),
                 ("vzdump-qemu-7654-2020_01_01-12_18_21.tar.zst", BASETIME, False, 7654)],
    "weekboundary": [("vzdump-qemu-7654-2020_12_03-12_18_21.tar.zst", BASETIME + (366 - 31 + 2) * DAY, False, 7654),
                     ("vzdump-qemu-7654-2020_12_04-12_18_21.tar.zst", BASETIME + (366 - 31 + 3) * DAY, False, 7654),
                     ("vzdump-qemu-7654-2020_12_07-12_18_21.tar.zst", BASETIME + (366 - 31 + 6) * DAY, False, 7654)],
}


def generate_expected(vmids, type_, marks):
    out = []
    for v in vmids:
        if type_ in (None, "qemu"):
            for k, (name, c, p) in enumerate(DEFAULT[:6]):
                mark = "protected" if p else marks[k if k < 2 else k - 1]
                out.append((f"{SID}:backup/" + name.format(v=v), c, mark, "qemu", v))
        if type_ in (None, "lxc"):
            out.append((f"{SID}:backup/vzdump-lxc-{v}-2020_01_01-12_18_21.tar.zst", BASETIME, marks[5], "lxc", v))
        if type_ is None:
            out.append((f"{SID}:backup/vzdump-{v}-renamed.tar.zst", None, "renamed", "unknown", v))
    return sorted(out)


def ge(vmids, type_, *marks):
    return generate_expected(vmids, type_, marks)


def single(lst, marks, types="qemu"):
    return sorted((f"{SID}:backup/{name}", c, m, types if isinstance(types, str) else t, v)
                  for (name, c, _, v), m, t in zip(LISTS[lst], marks, [types] * len(marks)))


ALL, ONE = VMIDS, VMIDS[:1]
# (description, list, vmid, type, keep options, expected): the test's 22 cases. keep None: the
# storage's own prune-backups (keep-all=1, as an empty set of options).
PRUNE_CASES = [
    ("last=3, multiple IDs", "default", None, None, "keep-last=3",
     ge(ALL, None, "remove", "remove", "keep", "keep", "keep", "keep")),
    ("weekly=2, one ID", "default", 1234, None, "keep-weekly=2",
     ge(ONE, None, "keep", "remove", "remove", "remove", "keep", "keep")),
    ("daily=weekly=monthly=1, multiple IDs", "default", None, None,
     "keep-hourly=0,keep-daily=1,keep-weekly=1,keep-monthly=1",
     ge(ALL, None, "keep", "remove", "keep", "remove", "keep", "keep")),
    ("hourly=4, one ID", "default", 1234, None, "keep-hourly=4,keep-daily=0",
     ge(ONE, None, "keep", "remove", "keep", "keep", "keep", "keep")),
    ("yearly=2, multiple IDs", "default", None, None,
     "keep-hourly=0,keep-daily=0,keep-weekly=0,keep-monthly=0,keep-yearly=2",
     ge(ALL, None, "remove", "remove", "keep", "remove", "keep", "keep")),
    ("last=2,hourly=2 one ID", "default", 1234, None, "keep-last=2,keep-hourly=2",
     ge(ONE, None, "keep", "remove", "keep", "keep", "keep", "keep")),
    ("last=1,monthly=2, multiple IDs", "default", None, None, "keep-last=1,keep-monthly=2",
     ge(ALL, None, "keep", "remove", "keep", "remove", "keep", "keep")),
    ("monthly=3, one ID", "default", 1234, None, "keep-monthly=3",
     ge(ONE, None, "keep", "remove", "keep", "remove", "keep", "keep")),
    ("last=daily=weekly=1, multiple IDs", "default", None, None, "keep-last=1,keep-daily=1,keep-weekly=1",
     ge(ALL, None, "keep", "remove", "keep", "remove", "keep", "keep")),
    ("last=daily=weekly=1, others zero, multiple IDs", "default", None, None,
     "keep-hourly=0,keep-last=1,keep-daily=1,keep-weekly=1,keep-monthly=0,keep-yearly=0",
     ge(ALL, None, "keep", "remove", "keep", "remove", "keep", "keep")),
    ("daily=2, one ID", "default", 1234, None, "keep-daily=2",
     ge(ONE, None, "remove", "remove", "keep", "remove", "keep", "keep")),
    ("weekly=monthly=1, multiple IDs", "default", None, None, "keep-weekly=1,keep-monthly=1",
     ge(ALL, None, "keep", "remove", "remove", "remove", "keep", "keep")),
    ("weekly=yearly=1, one ID", "default", 1234, None, "keep-weekly=1,keep-yearly=1",
     ge(ONE, None, "keep", "remove", "remove", "remove", "keep", "keep")),
    ("weekly=yearly=1, one ID, type qemu", "default", 1234, "qemu", "keep-weekly=1,keep-yearly=1",
     ge(ONE, "qemu", "keep", "remove", "remove", "remove", "keep", "")),
    ("week=yearly=1, one ID, type lxc", "default", 1234, "lxc", "keep-last=1",
     ge(ONE, "lxc", "", "", "", "", "", "keep")),
    ("yearly=1, year before 2000", "year1970", None, None, "keep-yearly=1",
     single("year1970", ["remove", "keep"], "lxc")),
    ("last=1, ne ID, year before 2000", "novmid", None, None, "keep-last=1",
     single("novmid", ["renamed"], "lxc")),
    ("all missing, multiple IDs", "default", None, None, None,
     ge(ALL, None, "keep", "keep", "keep", "keep", "keep", "keep")),
    # keep-monthyl (sic) there: no such option, so not set either way
    ("all zero, multiple IDs", "default", None, None,
     "keep-last=0,keep-hourly=0,keep-daily=0,keep-weekly=0,keep-yearly=0",
     ge(ALL, None, "keep", "keep", "keep", "keep", "keep", "keep")),
    ("some zero, some missing, multiple IDs", "default", None, None,
     "keep-last=0,keep-hourly=0,keep-daily=0,keep-yearly=0",
     ge(ALL, None, "keep", "keep", "keep", "keep", "keep", "keep")),
    ("daily=weekly=monthly=1", "threeway", None, None, "keep-daily=1,keep-weekly=1,keep-monthly=1",
     single("threeway", ["keep", "remove", "keep"])),
    ("daily=weekly=1,weekboundary", "weekboundary", None, None, "keep-daily=1,keep-weekly=1",
     single("weekboundary", ["remove", "keep", "keep"])),
]


def make_backups(n, lst):
    """A storage named SID holding the list's backups (protected ones with their .protected file)."""
    top = n.path(f"srv/prune-{lst}")
    shutil.rmtree(top, ignore_errors=True)
    n.request("DELETE", f"/storage/{SID}")
    add_storage(n, SID, top, content="backup", **{"prune-backups": "keep-all=1"})
    for name, _, prot, _ in LISTS[lst]:
        touch(os.path.join(top, "dump", name), b"x")
        if prot:
            touch(os.path.join(top, "dump", name + ".protected"))
    return top


@case
def prune_backups_test(n):
    expect(len(PRUNE_CASES) == 22, len(PRUNE_CASES))
    failed = []
    made = None
    for desc, lst, vmid, type_, keep, want in PRUNE_CASES:
        if made != lst:
            make_backups(n, lst)
            made = lst
        params = {k: v for k, v in (("vmid", vmid), ("type", type_), ("prune-backups", keep)) if v}
        r = n.get(f"/nodes/{n.name}/storage/{SID}/prunebackups", params)
        if r.status != 200:
            failed.append(f"{desc}: {r}")
            continue
        got = sorted((e["volid"], e["ctime"], e["mark"], e["type"], e.get("vmid")) for e in r.data)
        # a renamed backup's ctime is its file's here (Proxmox's mock says 1234)
        got = [(v, None if m == "renamed" else c, m, t, i) for v, c, m, t, i in got]
        if got != want:
            failed.append(f"{desc}: {got}, want {want}")
    expect(not failed, "; ".join(failed))


@case
def prune_task_and_permissions(n):
    top = make_backups(n, "default")
    dump = os.path.join(top, "dump")
    base = f"/nodes/{n.name}/storage/{SID}/prunebackups"
    touch(os.path.join(dump, "vzdump-qemu-1234-2018_05_26-11_18_21.log"), b"log")
    touch(os.path.join(dump, "vzdump-qemu-1234-2018_05_26-11_18_21.tar.zst.notes"), b"notes")
    for params, param in ((dict(vmid=1234, **{"prune-backups": "keep-lots=1"}), "prune-backups"),
                          ({"prune-backups": "keep-all=1,keep-last=1"}, "prune-backups"),
                          ({"type": "openvz"}, "type"), ({"vmid": 99}, "vmid")):
        for method in ("GET", "DELETE"):
            r = n.request(method, base, params)
            expect(r.status == 400 and param in (r.json.get("errors") or {}), (method, params, r))
    expect(len(os.listdir(dump)) == 2 * 8 + 2 + 2, os.listdir(dump))

    # who may: Datastore.Allocate, or with a guest Datastore.AllocateSpace and VM.Backup on it
    ok(n.post("/access/users", {"userid": "pruner@pve", "password": "prune-secret-1"}), "user")
    ok(n.request("PUT", "/access/acl", {"path": f"/storage/{SID}", "roles": "PVEDatastoreUser",
                                        "users": "pruner@pve"}), "acl")
    p = Node.__new__(Node)
    p.__dict__.update(n.__dict__)
    p.ticket = p.csrf = None
    p.login("pruner@pve", "prune-secret-1")
    r = p.request("DELETE", base, {"prune-backups": "keep-last=1"})
    expect(r.status == 403 and "Datastore.Allocate" in r.body, r)
    r = p.request("DELETE", base, {"prune-backups": "keep-last=1", "vmid": 1234})
    expect(r.status == 403 and "VM.Backup" in r.body, r)
    r = ok(p.get(base, {"prune-backups": "keep-last=1"}), "dry run by an auditor")
    ok(n.request("PUT", "/access/acl", {"path": "/vms/1234", "roles": "PVEVMAdmin", "users": "pruner@pve"}),
       "acl")
    r = ok(p.request("DELETE", base, {"prune-backups": "keep-last=1", "vmid": 1234}), "prune 1234")
    expect(r.data.startswith("UPID:") and ":prunebackups:1234@backtest123:" in r.data, r)
    t = n.wait_task(r.data)
    expect(t["exitstatus"] == "OK", t)
    left = set(os.listdir(dump))
    gone = {f"vzdump-qemu-1234-{t}.tar.zst" for t in ("2018_05_26-11_18_21", "2019_12_31-11_18_21",
                                                       "2019_12_31-11_19_21", "2020_01_01-11_18_21")}
    expect(not (gone & left), sorted(gone & left))
    expect("vzdump-qemu-1234-2018_05_26-11_18_21.log" not in left and
           "vzdump-qemu-1234-2018_05_26-11_18_21.tar.zst.notes" not in left, sorted(left))
    for kept in ("vzdump-qemu-1234-2019_12_31-11_18_51.tar.zst", "vzdump-qemu-1234-2020_01_01-12_18_21.tar.zst",
                 "vzdump-lxc-1234-2020_01_01-12_18_21.tar.zst", "vzdump-1234-renamed.tar.zst",
                 "vzdump-qemu-9001-2018_05_26-11_18_21.tar.zst"):
        expect(kept in left, (kept, sorted(left)))
    r = ok(n.get(f"/nodes/{n.name}/tasks/{q(r.data)}/log"), "log")
    lines = [e["t"] for e in r.data]
    expect(f"removing backup '{SID}:backup/vzdump-qemu-1234-2018_05_26-11_18_21.tar.zst'" in lines, lines)

    # the storage's own options when the call gives none: keep-all=1 removes nothing
    r = ok(n.request("DELETE", base), "storage options")
    expect(n.wait_task(r.data)["exitstatus"] == "OK", r)
    expect(set(os.listdir(dump)) == left, "removed with keep-all")
    # a storage without options, and one without backups
    ok(n.request("PUT", f"/storage/{SID}", {"delete": "prune-backups"}), "no options")
    r = n.get(base)
    expect(r.status == 400 and "no prune-backups options configured" in r.body, r)
    add_storage(n, "nobackups", n.path("srv/nobackups"), content="images")
    r = n.get(f"/nodes/{n.name}/storage/nobackups/prunebackups", {"prune-backups": "keep-last=1"})
    expect(r.status == 400 and "does not support backups" in r.body, r)


@case
def pvectl_prune_backups(n):
    top = make_backups(n, "threeway")
    r = pvectl(n, "storage", "prune-backups", SID, "--dry-run", "--keep-daily", "1", "--keep-weekly", "1",
               "--keep-monthly", "1")
    expect(r.returncode == 0, r)
    lines = r.stdout.splitlines()
    expect(lines[0].startswith("NOTE: this is only a preview"), lines)
    w = len(f"{SID}:backup/vzdump-qemu-7654-2019_12_25-12_18_21.tar.zst") + 1
    expect(lines[3] == f"{'Backup':<{w}} {'Backup-ID':>15} {'Prune-Mark':>10}", lines)
    expect(lines[4:] == [f"{SID + ':backup/vzdump-qemu-7654-' + t + '.tar.zst':<{w}} {'qemu/7654':>15} {m:>10}"
                         for t, m in (("2019_12_25-12_18_21", "keep"), ("2019_12_31-12_18_21", "remove"),
                                      ("2020_01_01-12_18_21", "keep"))], lines)
    r = pvectl(n, "storage", "prune-backups", SID, "--keep-last", "1")
    expect(r.returncode == 0, r)
    expect(f"removing backup '{SID}:backup/vzdump-qemu-7654-2019_12_25-12_18_21.tar.zst'" in r.stdout, r.stdout)
    expect(os.listdir(os.path.join(top, "dump")) == ["vzdump-qemu-7654-2020_01_01-12_18_21.tar.zst"],
           os.listdir(os.path.join(top, "dump")))
    r = pvectl(n, "storage", "prune-backups", SID, "--dry-run", "--keep-last", "1")
    expect(r.returncode == 0 and "qemu/7654" in r.stdout, r)
    make_backups(n, "novmid")
    shutil.rmtree(n.path("srv/prune-novmid/dump"))
    os.makedirs(n.path("srv/prune-novmid/dump"))
    r = pvectl(n, "storage", "prune-backups", SID, "--dry-run", "1")
    expect(r.returncode == 0 and r.stdout == "No backups found\n", r)


# ---- the rest of the list -----------------------------------------------------------------------

@case
def listing_fields(n):
    """Snippets and imports whatever the guest, no ISO in a guest's listing; used only on images;
    protected only when set; a container's raw disk is rootdir, a VM's subvol images; a linked clone
    of a vm- image; a plain .tar template; ova and ovf formats."""
    top = n.path("srv/fields")
    add_storage(n, "fields", top, content="iso,rootdir,vztmpl,images,snippets,backup,import")
    guests(n, lxc=[301], qemu=[300])
    touch(os.path.join(top, "images/301/vm-301-disk-0.raw"), b"\0" * 4096)
    os.makedirs(os.path.join(top, "images/300/subvol-300-disk-0.subvol"))
    subprocess.run(["qemu-img", "create", "-f", "qcow2", os.path.join(top, "images/300/vm-300-disk-1.qcow2"),
                    "1M"], check=True, capture_output=True)
    os.makedirs(os.path.join(top, "images/302"))
    subprocess.run(["qemu-img", "create", "-f", "qcow2", "-u", "-b", "../300/vm-300-disk-1.qcow2", "-F",
                    "qcow2", os.path.join(top, "images/302/vm-302-disk-0.qcow2"), "1M"], check=True,
                   capture_output=True)
    for f in ("snippets/hook.pl", "template/iso/x.iso", "template/cache/debian.tar", "import/vm.ova",
              "import/vm.ovf", "dump/vzdump-qemu-300-2024_05_01-10_00_00.vma.zst",
              "dump/vzdump-qemu-300-2024_05_02-10_00_00.vma.zst"):
        touch(os.path.join(top, f), b"x" * 10)
    touch(os.path.join(top, "dump/vzdump-qemu-300-2024_05_02-10_00_00.vma.zst.protected"))
    touch(os.path.join(top, "dump/vzdump-qemu-300-2024_05_02-10_00_00.vma.zst.notes"), b"first\nsecond\n")
    base = f"/nodes/{n.name}/storage/fields/content"
    vols = {v["volid"]: v for v in ok(n.get(base), "all").data}
    expect(vols["fields:301/vm-301-disk-0.raw"]["content"] == "rootdir", vols)
    expect(vols["fields:300/subvol-300-disk-0.subvol"]["content"] == "images", vols)
    clone = vols.get("fields:300/vm-300-disk-1.qcow2/302/vm-302-disk-0.qcow2")
    expect(clone and clone["parent"] == "../300/vm-300-disk-1.qcow2", vols)
    expect(vols["fields:vztmpl/debian.tar"]["format"] == "tar", vols)
    expect(vols["fields:import/vm.ova"]["format"] == "ova" and vols["fields:import/vm.ovf"]["format"] == "ovf",
           vols)
    for volid, v in vols.items():
        expect(("used" in v) == (v["content"] in ("images", "rootdir")), v)
    b1 = vols["fields:backup/vzdump-qemu-300-2024_05_01-10_00_00.vma.zst"]
    b2 = vols["fields:backup/vzdump-qemu-300-2024_05_02-10_00_00.vma.zst"]
    expect("protected" not in b1 and b2.get("protected") == 1 and b2.get("notes") == "first", (b1, b2))
    expect(b1["subtype"] == "qemu" and b1["ctime"] == 1714557600, b1)
    r = ok(n.get(base, {"vmid": 300}), "guest 300")
    got = {v["volid"] for v in r.data}
    expect("fields:snippets/hook.pl" in got and "fields:import/vm.ova" in got, got)
    expect("fields:iso/x.iso" not in got and "fields:vztmpl/debian.tar" not in got, got)
    r = ok(n.get(base, {"content": "rootdir"}), "rootdir")
    expect([v["volid"] for v in r.data] == ["fields:301/vm-301-disk-0.raw"], r.data)
    # an error names the failing part
    r = n.get(f"{base}/{q('fields:100/base-100-disk-0.vhdx/100/vm-100-disk-0.vhdx')}")
    expect(r.status == 400 and "unable to parse volume filename 'base-100-disk-0.vhdx'" in r.body, r)


@case
def backup_delete_takes_log_and_notes(n):
    dump = n.path("var/lib/vz/dump")
    name = "vzdump-lxc-200-2024_01_01-00_00_00.tar.zst"
    touch(os.path.join(dump, name), b"x")
    touch(os.path.join(dump, name + ".notes"), b"n")
    touch(os.path.join(dump, "vzdump-lxc-200-2024_01_01-00_00_00.log"), b"l")
    r = ok(n.request("DELETE", f"/nodes/{n.name}/storage/local/content/{q('local:backup/' + name)}"), "delete")
    expect(n.wait_task(r.data)["exitstatus"] == "OK", r)
    left = [f for f in os.listdir(dump) if "200" in f]
    expect(left == [], left)


@case
def content_dirs(n):
    top = n.path("srv/cdirs")
    before = open(n.path("etc/pve/storage.cfg")).read()
    for bad in ("backup=../up", "nope=x", "iso=x.", "backup"):
        r = n.post("/storage", {"storage": "cdirs", "type": "dir", "path": top, "content": "iso,backup",
                                "content-dirs": bad})
        expect(r.status == 400 and "content-dirs" in (r.json.get("errors") or {}), (bad, r))
    expect(open(n.path("etc/pve/storage.cfg")).read() == before, "storage.cfg changed by bad input")
    add_storage(n, "cdirs", top, content="iso,backup", **{"content-dirs": "backup=bk,iso=isos/here"})
    r = ok(n.get("/storage/cdirs"), "read")
    expect(r.data.get("content-dirs") == "backup=bk,iso=isos/here", r.data)
    ok(n.get(f"/nodes/{n.name}/storage/cdirs/status"), "activate")
    expect(os.path.isdir(os.path.join(top, "bk")) and os.path.isdir(os.path.join(top, "isos/here")),
           os.listdir(top))
    touch(os.path.join(top, "bk/vzdump-qemu-400-2024_01_01-00_00_00.vma"), b"x")
    touch(os.path.join(top, "isos/here/d.iso"), b"x")
    r = ok(n.get(f"/nodes/{n.name}/storage/cdirs/content"), "list")
    expect({v["volid"] for v in r.data} == {"cdirs:backup/vzdump-qemu-400-2024_01_01-00_00_00.vma",
                                           "cdirs:iso/d.iso"}, r.data)
    r = ok(n.get(f"/nodes/{n.name}/storage/cdirs/content/{q('cdirs:iso/d.iso')}"), "info")
    expect(r.data["path"] == os.path.join(top, "isos/here/d.iso"), r.data)
    ok(n.request("PUT", "/storage/cdirs", {"content-dirs": "iso=isos2"}), "update")
    r = pvectl(n, "storage", "path", "cdirs:iso/d.iso")
    expect(r.returncode == 0 and r.stdout == os.path.join(top, "isos2/d.iso") + "\n", r)


@case
def pvectl_path_computes(n):
    """pvesm path: the path from storage.cfg alone, for a missing image and an empty one too."""
    for volid, rel in (("local:100/vm-100-disk-7.qcow2", "images/100/vm-100-disk-7.qcow2"),
                       ("local:iso/none.iso", "template/iso/none.iso"),
                       ("local:import/x.ova/OS disk.vmdk", "import/x.ova/OS disk.vmdk"),
                       ("local:100/vm-100-disk-0.qcow2/101/vm-101-disk-0.qcow2", "images/101/vm-101-disk-0.qcow2")):
        r = pvectl(n, "storage", "path", volid)
        expect(r.returncode == 0 and r.stdout == n.path("var/lib/vz/" + rel) + "\n", (volid, r))
        expect(not os.path.exists(n.path("var/lib/vz/" + rel)), "made a file")
    touch(n.path("var/lib/vz/images/100/vm-100-disk-8.qcow2"))
    r = pvectl(n, "storage", "path", "local:100/vm-100-disk-8.qcow2")
    expect(r.returncode == 0 and r.stdout.strip().endswith("images/100/vm-100-disk-8.qcow2"), r)
    r = pvectl(n, "storage", "path", "local:100/base-100-disk-0.vhdx/100/vm-100-disk-0.vhdx")
    expect(r.returncode != 0 and "unable to parse volume filename 'base-100-disk-0.vhdx'" in r.stderr, r)
    r = pvectl(n, "storage", "path", "nope:iso/x.iso")
    expect(r.returncode != 0 and "storage 'nope' does not exist" in r.stderr, r)


def main():
    if os.geteuid() != 0:
        print("skip integration-storage-suite: needs root")
        return 0
    os.environ["TZ"] = "UTC"
    with Node() as n:
        n.login()
        return run(n)


if __name__ == "__main__":
    sys.exit(main())
