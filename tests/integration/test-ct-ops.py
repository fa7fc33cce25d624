"""Container operations beyond the lifecycle, on a real pved: snapshots (refused on a dir storage's raw
image as Proxmox refuses them; made, listed, rolled back and deleted on a btrfs storage the test made on
a loop file), template on btrfs (the subvolume kept, read-only; no linked clone of it, as Proxmox
has none; a full copy), a full clone on dir (its own volume and MAC address),
resize (grow, the ext4 inside grown too; shrink refused), move_volume (to another storage, and to
another container), a clone under a bandwidth limit, limits of a running container, feature,
interfaces of a running container, termproxy's and vncproxy's answers (test-ct-vncterm.py speaks VNC
to the latter)."""

import os
import re
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from pvetest import Skip, case, expect  # noqa: E402
import vmlib  # noqa: E402


def ct(n, vmid, rest=""):
    return f"/nodes/{n.name}/lxc/{vmid}{rest}"


def task(n, r, timeout=120):
    expect(r.status == 200 and str(r.data).startswith("UPID:"), r)
    st = n.wait_task(r.data, timeout=timeout)
    log = n.get(f"/nodes/{n.name}/tasks/{r.data}/log", {"limit": 50}).body
    return st["exitstatus"], log


def task_ok(n, r, timeout=120):
    status, log = task(n, r, timeout)
    expect(status == "OK", f"{status}: {log[-1500:]}")


def conf(n, vmid):
    with open(n.path(f"etc/pve/nodes/{n.name}/lxc/{vmid}.conf")) as f:
        return f.read()


def create(n, vmid, **extra):
    params = {"vmid": vmid, "ostemplate": vmlib.ct_template(n), "rootfs": "local:1", "hostname": f"ct{vmid}"}
    params.update(extra)
    task_ok(n, n.post(f"/nodes/{n.name}/lxc", params))


def make_template(n, vmid):
    """POST .../template (which answers null, as Proxmox's, while its task runs): the config after."""
    r = n.post(ct(n, vmid, "/template"))
    expect(r.status == 200, r)
    for _ in range(100):
        if "template: 1" in conf(n, vmid):
            break
        time.sleep(0.1)
    return conf(n, vmid)


BTRFS = {}


def btrfs(n):
    """A btrfs storage 'bt' on a loop file, mounted below the node's root (unmounted at the end)."""
    if "sid" in BTRFS:
        return BTRFS["sid"]
    img = n.path("btrfs.img")
    mnt = n.path("btrfs")
    with open(img, "wb") as f:
        f.truncate(256 << 20)
    r = subprocess.run(["mkfs.btrfs", "-q", img], capture_output=True, text=True)
    if r.returncode != 0:
        raise Skip(f"mkfs.btrfs: {r.stderr.strip()}")
    os.makedirs(mnt)
    r = subprocess.run(["mount", "-o", "loop", img, mnt], capture_output=True, text=True)
    if r.returncode != 0:
        raise Skip(f"mount btrfs: {r.stderr.strip()}")
    BTRFS["mnt"] = mnt
    r = n.post("/storage", {"storage": "bt", "type": "btrfs", "path": mnt,
                            "content": "rootdir,images"})
    expect(r.status == 200, r)
    BTRFS["sid"] = "bt"
    return "bt"


@case
def snapshot_refused_on_dir(n):
    create(n, 400)
    status, log = task(n, n.post(ct(n, 400, "/snapshot"), {"snapname": "s1"}))
    expect(status == "snapshot feature is not available", (status, log))
    expect("[s1]" not in conf(n, 400) and "lock:" not in conf(n, 400), conf(n, 400))
    r = n.get(ct(n, 400, "/feature"), {"feature": "snapshot"})
    expect(r.status == 200 and r.data["hasFeature"] is False, r)


@case
def snapshots_on_btrfs(n):
    sid = btrfs(n)
    create(n, 401, rootfs=f"{sid}:0")
    expect(re.search(r"rootfs: bt:401/subvol-401-disk-0.subvol", conf(n, 401)), conf(n, 401))
    r = n.get(ct(n, 401, "/feature"), {"feature": "snapshot"})
    expect(r.data["hasFeature"] is True, r)
    root = os.path.join(BTRFS["mnt"], "images/401/subvol-401-disk-0.subvol")
    with open(os.path.join(root, "marker"), "w") as f:
        f.write("before")
    task_ok(n, n.post(ct(n, 401, "/snapshot"), {"snapname": "s1", "description": "first"}))
    text = conf(n, 401)
    expect("parent: s1" in text and "[s1]" in text and "snaptime:" in text, text)
    r = n.get(ct(n, 401, "/snapshot"))
    names = [x["name"] for x in r.data]
    expect(names == ["s1", "current"], r.data)
    expect(r.data[0]["description"] == "first" and r.data[1]["parent"] == "s1", r.data)
    r = n.get(ct(n, 401, "/snapshot/s1/config"))
    expect(r.status == 200 and r.data["hostname"] == "ct401", r)
    r = n.request("PUT", ct(n, 401, "/snapshot/s1/config"), {"description": "renamed"})
    expect(r.status == 200, r)
    expect(n.get(ct(n, 401, "/snapshot")).data[0]["description"] == "renamed", "description")
    # change the container and roll it back
    with open(os.path.join(root, "marker"), "w") as f:
        f.write("after")
    r = n.request("PUT", ct(n, 401, "/config"), {"hostname": "changed"})
    expect(r.status == 200, r)
    task_ok(n, n.post(ct(n, 401, "/snapshot/s1/rollback")))
    expect(open(os.path.join(root, "marker")).read() == "before", "the volume was not rolled back")
    expect("hostname: ct401" in conf(n, 401).split("[")[0], conf(n, 401))
    status, _ = task(n, n.post(ct(n, 401, "/snapshot"), {"snapname": "s1"}))
    expect("already used" in status, status)
    task_ok(n, n.request("DELETE", ct(n, 401, "/snapshot/s1")))
    text = conf(n, 401)
    expect("[s1]" not in text and "parent:" not in text, text)
    expect(not os.path.exists(os.path.join(BTRFS["mnt"], "images/401/subvol-401-disk-0@s1")),
           os.listdir(os.path.join(BTRFS["mnt"], "images/401")))
    r = n.post(ct(n, 401, "/snapshot/nosuch/rollback"))
    expect(r.status == 400 and "does not exist" in r.body, r)
    task_ok(n, n.request("DELETE", ct(n, 401)))


@case
def template_on_btrfs(n):
    """A container on btrfs made a template: its subvolume keeps its name, read-only (Proxmox's
    BTRFSPlugin); Proxmox has no linked clone of it (clone is a base's or a raw volume's feature),
    so only a full copy is made of it."""
    sid = btrfs(n)
    create(n, 402, rootfs=f"{sid}:0")
    text = make_template(n, 402)
    expect("template: 1" in text and "rootfs: bt:402/subvol-402-disk-0.subvol" in text, text)
    root = os.path.join(BTRFS["mnt"], "images/402/subvol-402-disk-0.subvol")
    try:
        open(os.path.join(root, "marker"), "w").close()
        expect(False, "the template's subvolume is writable")
    except OSError as e:
        expect(e.errno == 30, e)  # EROFS
    r = n.post(ct(n, 402, "/template"))
    expect(r.status == 400 and "template to a template" in r.body, r)
    r = n.post(ct(n, 402, "/clone"), {"newid": 403})
    expect(r.status == 400 and "linked clone feature" in r.body, r)
    # under a bandwidth limit: the subvolume copied by rsync --bwlimit, as Proxmox copies one
    status, log = task(n, n.post(ct(n, 402, "/clone"), {"newid": 403, "full": 1,
                                                        "bwlimit": 102400}))
    expect(status == "OK" and "bandwidth limit: 102400 KiB/s" in log, f"{status}: {log[-800:]}")
    text = conf(n, 403)
    expect("rootfs: bt:403/subvol-403-disk-0.subvol" in text and "template" not in text, text)
    copy = os.path.join(BTRFS["mnt"], "images/403/subvol-403-disk-0.subvol")
    expect(os.path.exists(os.path.join(copy, "bin/busybox")), os.listdir(copy))
    open(os.path.join(copy, "marker"), "w").close()
    task_ok(n, n.request("DELETE", ct(n, 403)))
    task_ok(n, n.request("DELETE", ct(n, 402)))
    expect(not os.path.exists(root), os.listdir(os.path.dirname(root)))


@case
def full_clone_resize_move(n):
    create(n, 410, net0="name=eth0,ip=dhcp")
    r = n.post(ct(n, 410, "/clone"), {"newid": 410})
    expect(r.status == 400, r)
    r = n.post(ct(n, 410, "/clone"), {"newid": 411, "full": 0})
    expect(r.status == 400 and "full" in r.body, r)
    task_ok(n, n.post(ct(n, 410, "/clone"), {"newid": 411, "hostname": "copy"}))
    a, b = conf(n, 410), conf(n, 411)
    expect("rootfs: local:411/vm-411-disk-0.raw,size=1G" in b and "hostname: copy" in b, b)
    mac = lambda t: re.search(r"hwaddr=([0-9A-F:]+)", t).group(1)  # noqa: E731
    expect(mac(a) != mac(b), (a, b))
    img = n.path("var/lib/vz/images/411/vm-411-disk-0.raw")
    out = subprocess.run(["debugfs", "-R", "stat /bin/busybox", img], capture_output=True,
                         text=True).stdout
    expect("User: 100000" in out, out)
    # resize: grow, and the ext4 inside grows with it
    task_ok(n, n.request("PUT", ct(n, 411, "/resize"), {"disk": "rootfs", "size": "+512M"}))
    expect(os.path.getsize(img) == 1536 << 20, os.path.getsize(img))
    expect("size=1536M" in conf(n, 411), conf(n, 411))
    out = subprocess.run(["dumpe2fs", "-h", img], capture_output=True, text=True).stdout
    blocks = int(re.search(r"Block count:\s+(\d+)", out).group(1))
    bsize = int(re.search(r"Block size:\s+(\d+)", out).group(1))
    expect(blocks * bsize == 1536 << 20, out[:400])
    status, _ = task(n, n.request("PUT", ct(n, 411, "/resize"), {"disk": "rootfs", "size": "1G"}))
    expect("shrinking disks is not supported" in status, status)
    r = n.request("PUT", ct(n, 411, "/resize"), {"disk": "mp5", "size": "1G"})
    expect(r.status == 400, r)
    # move_volume onto the same dir storage under a new name keeps the old one as unused
    task_ok(n, n.post(ct(n, 411, "/move_volume"), {"volume": "rootfs", "storage": "local",
                                                   "delete": 1}))
    text = conf(n, 411)
    expect("rootfs: local:411/vm-411-disk-1.raw" in text and "unused" not in text, text)
    expect(not os.path.exists(img), "the moved volume's source was kept")
    task_ok(n, n.request("DELETE", ct(n, 411)))
    # a template on dir: its raw volume becomes a base volume; a linked clone needs a storage
    # that can (qcow2 or btrfs), so only a full copy is made of it
    text = make_template(n, 410)
    expect("template: 1" in text and "rootfs: local:410/base-410-disk-0.raw" in text, text)
    r = n.post(ct(n, 410, "/status/start"))
    expect(r.status == 400 or task(n, r)[0] != "OK", r)
    r = n.post(ct(n, 410, "/clone"), {"newid": 412})
    expect(r.status == 400 and "linked clone feature" in r.body, r)
    task_ok(n, n.post(ct(n, 410, "/clone"), {"newid": 412, "full": 1}))
    expect("rootfs: local:412/vm-412-disk-0.raw" in conf(n, 412), conf(n, 412))
    task_ok(n, n.request("DELETE", ct(n, 412)))
    task_ok(n, n.request("DELETE", ct(n, 410)))


def data_bytes(path):
    """The bytes of a file outside its holes, as SEEK_DATA and SEEK_HOLE tell them."""
    total, pos = 0, 0
    with open(path, "rb") as f:
        fd = f.fileno()
        while True:
            try:
                start = os.lseek(fd, pos, os.SEEK_DATA)
            except OSError:
                return total
            pos = os.lseek(fd, start, os.SEEK_HOLE)
            total += pos - start


@case
def clone_with_bwlimit(n):
    """A full clone with bwlimit copies at that rate (qemu-img convert -r; the task log names it),
    and no faster: the time is at least half of what the source's data takes at the limit."""
    create(n, 440)
    src = n.path("var/lib/vz/images/440/vm-440-disk-0.raw")
    data = data_bytes(src)
    limit = 512
    t0 = time.monotonic()
    r = n.post(ct(n, 440, "/clone"), {"newid": 441, "bwlimit": limit})
    status, log = task(n, r, timeout=300)
    took = time.monotonic() - t0
    expect(status == "OK" and f"bandwidth limit: {limit} KiB/s" in log, f"{status}: {log[-800:]}")
    floor = data / (limit * 1024) / 2
    print(f"# {data >> 10} KiB of data cloned at {limit} KiB/s in {took:.1f} s", flush=True)
    expect(took >= floor, f"{took:.1f} s, under {floor:.1f} s: the limit was not applied")
    img = n.path("var/lib/vz/images/441/vm-441-disk-0.raw")
    out = subprocess.run(["debugfs", "-R", "stat /bin/busybox", img], capture_output=True,
                         text=True).stdout
    expect("User: 100000" in out, out)
    for vmid in (441, 440):
        task_ok(n, n.request("DELETE", ct(n, vmid)))


@case
def move_volume_to_another_ct(n):
    """move_volume with target-vmid (Proxmox's reassign): the volume renamed to the other container
    and its key moved; Proxmox's refusals (storage and target-vmid together or neither, rootfs, an
    unused volume to a mount point, a key in use)."""
    create(n, 430, mp0="local:1,mp=/data")
    create(n, 431)
    r = n.post(ct(n, 430, "/move_volume"), {"volume": "mp0", "storage": "local",
                                            "target-vmid": 431})
    expect(r.status == 400 and set(r.json["errors"]) == {"storage", "target-vmid"}, r)
    r = n.post(ct(n, 430, "/move_volume"), {"volume": "mp0"})
    expect(r.status == 400 and set(r.json["errors"]) == {"storage", "target-vmid"}, r)
    r = n.post(ct(n, 430, "/move_volume"), {"volume": "rootfs", "target-vmid": 431})
    expect(r.status >= 400 and "Cannot move to/from 'rootfs'" in r.body, r)
    r = n.post(ct(n, 430, "/move_volume"), {"volume": "mp0", "target-vmid": 431,
                                            "target-volume": "rootfs"})
    expect(r.status >= 400 and "rootfs" in r.body, r)
    src = n.path("var/lib/vz/images/430/vm-430-disk-1.raw")
    expect(os.path.exists(src), os.listdir(os.path.dirname(src)))
    r = n.post(ct(n, 430, "/move_volume"), {"volume": "mp0", "target-vmid": 431,
                                            "target-volume": "mp1"})
    expect(r.status == 200 and ":430-mp0>431-mp1:" in r.data, r)
    task_ok(n, r)
    a, b = conf(n, 430), conf(n, 431)
    expect("mp0" not in a, a)
    m = re.search(r"^mp1: (local:431/vm-431-disk-\d+\.raw),mp=/data", b, re.M)
    expect(m, b)
    expect(not os.path.exists(src), "the volume kept its old name")
    path = n.path(f"var/lib/vz/images/431/{m.group(1).split('/')[1]}")
    expect(os.path.exists(path), os.listdir(os.path.dirname(path)))
    # back, as an unused volume of 430; an unused volume can't become a mount point
    task_ok(n, n.post(ct(n, 431, "/move_volume"), {"volume": "mp1", "target-vmid": 430,
                                                   "target-volume": "unused0"}))
    expect(re.search(r"^unused0: local:430/vm-430-disk-\d+\.raw$", conf(n, 430), re.M),
           conf(n, 430))
    r = n.post(ct(n, 430, "/move_volume"), {"volume": "unused0", "target-vmid": 431,
                                            "target-volume": "mp2"})
    expect(r.status >= 400 and "unused volume to a used one" in r.body, r)
    r = n.post(ct(n, 430, "/move_volume"), {"volume": "unused0", "target-vmid": 431,
                                            "target-volume": "rootfs"})
    expect(r.status >= 400, r)
    for vmid in (431, 430):
        task_ok(n, n.request("DELETE", ct(n, vmid)))
    expect(not os.path.exists(n.path("var/lib/vz/images/430")) or
           not os.listdir(n.path("var/lib/vz/images/430")), "430's volumes were left")


def cgroup2_controllers():
    """The controllers the cgroup2 root offers (none on this host's hybrid layout)."""
    with open("/proc/self/mountinfo") as f:
        for line in f:
            fields = line.split()
            sep = fields.index("-")
            if fields[sep + 1] == "cgroup2":
                with open(os.path.join(fields[4], "cgroup.controllers")) as c:
                    return set(c.read().split())
    return set()


@case
def limits_of_a_running_ct(n):
    """A running container takes cpulimit at once where its cgroup can have the cpu controller
    (Proxmox's hot-plug): the value in cpu.max and out of [pve:pending]. Where it can't (this host),
    the change is written and kept pending, and the answer is Proxmox's 400 naming the key; lifting
    a limit needs no controller."""
    create(n, 450, start=1)
    try:
        r = n.request("PUT", ct(n, 450, "/config"), {"cpulimit": "0.5"})
        text = conf(n, 450)
        main = text.split("[pve:pending]")[0]
        if "cpu" in cgroup2_controllers():
            expect(r.status == 200 and "cpulimit: 0.5" in main and "[pve:pending]" not in text,
                   f"{r} {text}")
            # the init runs in the container cgroup's "ns" child; the limits are one above
            pid = n.get(ct(n, 450, "/status/current")).data["pid"]
            with open(f"/proc/{pid}/cgroup") as f:
                rel = [x.split("::", 1)[1].strip() for x in f if x.startswith("0::")][0]
            mount = [m.split()[4] for m in open("/proc/self/mountinfo")
                     if m.split()[m.split().index("-") + 1] == "cgroup2"][0]
            with open(os.path.join(mount + os.path.dirname(rel), "cpu.max")) as f:
                expect(f.read().split() == ["50000", "100000"], "cpu.max")
        else:
            err = (r.json or {}).get("errors", {}).get("cpulimit", "")
            expect(r.status == 400 and err.startswith("unable to hotplug cpulimit: ") and
                   "'cpu'" in err, r)
            expect("cpulimit" not in main and "[pve:pending]" in text and "cpulimit: 0.5" in text,
                   text)
        # deleting a limit that was never applied: nothing to lift, no controller needed
        r = n.request("PUT", ct(n, 450, "/config"), {"delete": "cpulimit"})
        expect(r.status == 200, r)
        text = conf(n, 450)
        expect("cpulimit" not in text and "[pve:pending]" not in text, text)
        # a stopped container takes it from its next start: no hot-plug
        task_ok(n, n.post(ct(n, 450, "/status/stop")))
        r = n.request("PUT", ct(n, 450, "/config"), {"memory": 256})
        expect(r.status == 200 and "memory: 256" in conf(n, 450), r)
    finally:
        n.post(ct(n, 450, "/status/stop"))
        time.sleep(0.5)
        task_ok(n, n.request("DELETE", ct(n, 450)))


@case
def interfaces_and_console(n):
    create(n, 420, start=1)
    r = n.get(ct(n, 420, "/interfaces"))
    expect(r.status == 200, r)
    lo = [x for x in r.data if x["name"] == "lo"]
    expect(lo and lo[0]["inet"] == "127.0.0.1/8", r.data)
    r = n.post(ct(n, 420, "/termproxy"))
    expect(r.status == 200 and r.data["port"] >= 5900 and r.data["ticket"].startswith("PVEVNC:"),
           r)
    r = n.post(ct(n, 420, "/vncproxy"))
    expect(r.status == 200 and r.data["port"] >= 5900 and r.data["ticket"].startswith("PVEVNC:") and
           ":vncproxy:420:" in r.data["upid"], r)
    task_ok(n, n.post(ct(n, 420, "/status/stop")))
    r = n.get(ct(n, 420, "/interfaces"))
    expect(r.status == 400 and "not running" in r.body, r)


def umount_btrfs(n):
    """The btrfs storage's loop mount (umount frees the loop device, made with autoclear)."""
    if os.path.ismount(n.path("btrfs")):
        subprocess.run(["umount", n.path("btrfs")])


if __name__ == "__main__":
    sys.exit(vmlib.ct_main(umount_btrfs))
