# timeout: 600
"""VM operations on a real pved with the test guest under TCG (a PVH direct kernel boot, a qcow2 disk
on the local dir storage): snapshots of a stopped VM (qemu-img's internal snapshots) and of a running
one with its RAM (QEMU's snapshot-save into a state volume) and without (one transaction of internal
snapshots), a rollback that brings the guest's RAM back (a marker written in the guest's shell before
the snapshot is read after it), snapshot config and description, deletions that leave no state volume
and no snapshot in the image; names and states Proxmox refuses: a 400 naming the parameter and nothing
changed. Templates, linked and full clones (booted: the guest reads the template's disk; once a
stop task has ended, the list and status/current say stopped), ten full clones of one template
started at once; a template whose base image a linked clone uses is neither destroyed nor loses that
disk (Proxmox's errors), and goes, with its volume, once the clone is gone; a disk grown while the VM runs (the guest sees the new size),
moved to another dir storage by drive-mirror while it runs (the guest's writes land in the new volume)
and back by qemu-img while stopped; unlink, feature. Five guest boots: the limit is 600 s for a loaded
machine. Runs as root; every QEMU is stopped by PID at the end."""

import json
import os
import re
import shutil
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from pvetest import Skip, case, expect  # noqa: E402
import vmlib  # noqa: E402
from vmlib import Serial, status, task, wait_status  # noqa: E402

BIN = os.environ.get("PVED_BIN", os.path.join(vmlib.TOP, "build", "bin"))
state = {}


def conf_text(n, vmid):
    with open(n.path(f"etc/pve/nodes/{n.name}/qemu-server/{vmid}.conf")) as f:
        return f.read()


def images(n, vmid):
    d = n.path(f"var/lib/vz/images/{vmid}")
    return sorted(os.listdir(d)) if os.path.isdir(d) else []


def image_snapshots(n, vmid, name):
    r = subprocess.run(["qemu-img", "snapshot", "-U", "-l", n.path(f"var/lib/vz/images/{vmid}/{name}")],
                       capture_output=True, text=True)
    expect(r.returncode == 0, r.stderr)
    return [line.split()[1] for line in r.stdout.splitlines()[2:] if line.strip()]


def refused(r, param, words=None, status=400):
    expect(r.status == status, r)
    if param:
        errors = (r.json or {}).get("errors") or {}
        expect(param in errors, f"errors do not name {param}: {r}")
        if words:
            expect(words in errors[param], f"{param}: {errors[param]!r} lacks {words!r}")
    elif words:
        expect(words in (r.json or {}).get("message", ""), f"message lacks {words!r}: {r}")


def pvectl(n, *args):
    r = subprocess.run([os.path.join(BIN, "pvectl"), "--root", n.root, *args],
                       capture_output=True, text=True)
    expect(r.returncode == 0, f"pvectl {args}: {r.stdout} {r.stderr}")
    return r.stdout


def need(key):
    if key not in state:
        raise Skip(state.get("why", f"no {key}"))
    return state[key]


def snaps(n, vmid):
    r = n.get(f"/nodes/{n.name}/qemu/{vmid}/snapshot")
    expect(r.status == 200, r)
    return {s["name"]: s for s in r.data}


def shell(serial, command, answer, timeout=30):
    """Runs a command in the guest's serial shell; the first match of answer after it."""
    mark = len(serial.out)
    serial.sock.sendall(command.encode() + b"\n")
    return serial.wait(answer, timeout=timeout, since=mark)


def guest_args():
    g = vmlib.guest_image()
    with open(os.path.join(g, "cmdline")) as f:
        cmdline = f.read().strip()
    return f"-kernel {g}/vmlinux -initrd {g}/initrd.gz -append '{cmdline}'"


@case
def setup_guest(n):
    try:
        args = guest_args()
    except Skip as e:
        state["why"] = str(e)
        raise
    # args is root's: set through the node's local socket, where the caller is root@pam
    pvectl(n, "create", f"/nodes/{n.name}/qemu", "--vmid", "200", "--name", "ops",
           "--memory", "192", "--serial0", "socket", "--agent", "1", "--scsihw", "virtio-scsi-pci",
           "--scsi0", "local:1,format=qcow2", f"--args={args}")
    deadline = time.time() + 30
    while n.get(f"/nodes/{n.name}/qemu/200/config").data.get("lock") and time.time() < deadline:
        time.sleep(0.1)
    expect(images(n, 200) == ["vm-200-disk-0.qcow2"], images(n, 200))
    state["vm"] = 200


@case
def snapshot_of_a_stopped_vm(n):
    need("vm")
    r = n.post(f"/nodes/{n.name}/qemu/200/snapshot", {"snapname": "s1", "description": "first"})
    task(n, r)
    log = vmlib.task_log(n, r.data)
    expect(r.data.split(":")[5] == "qmsnapshot", r.data)
    s = snaps(n, 200)
    expect(set(s) == {"s1", "current"}, s)
    expect(s["s1"]["description"] == "first" and s["s1"]["vmstate"] == 0, s["s1"])
    expect(abs(s["s1"]["snaptime"] - time.time()) < 120 and "parent" not in s["s1"], s["s1"])
    expect(s["current"]["parent"] == "s1" and s["current"]["description"] == "You are here!",
           s["current"])
    expect(s["current"]["running"] == 0 and len(s["current"]["digest"]) == 40, s["current"])
    text = conf_text(n, 200)
    expect("\n[s1]\n#first\n" in text and "parent: s1\n" in text and "lock:" not in text, text)
    expect(image_snapshots(n, 200, "vm-200-disk-0.qcow2") == ["s1"], log)
    r = n.get(f"/nodes/{n.name}/qemu/200/snapshot/s1/config")
    expect(r.status == 200 and r.data["scsi0"].startswith("local:200/vm-200-disk-0.qcow2"), r)
    expect(r.data["description"] == "first" and r.data["memory"] == "192", r.data)
    expect("snapstate" not in r.data, r.data)
    r = n.request("PUT", f"/nodes/{n.name}/qemu/200/snapshot/s1/config",
                  {"description": "first, renamed"})
    expect(r.status == 200, r)
    expect(snaps(n, 200)["s1"]["description"] == "first, renamed", snaps(n, 200))
    r = n.get(f"/nodes/{n.name}/qemu/200/snapshot/s1")
    expect(r.status == 200 and r.data == [{"cmd": "rollback"}, {"cmd": "config"}], r)


@case
def snapshot_bad_input(n):
    need("vm")
    before = conf_text(n, 200)
    base = f"/nodes/{n.name}/qemu/200/snapshot"
    refused(n.post(base, {"snapname": "current"}), "snapname", "reserved")
    refused(n.post(base, {"snapname": "pending"}), "snapname", "reserved")
    refused(n.post(base, {"snapname": "1abc"}), "snapname")
    refused(n.post(base, {"snapname": "a" * 41}), "snapname")
    refused(n.post(base, {"snapname": "s1"}), "snapname", "already used")
    refused(n.post(f"{base}/nope/rollback"), None, "snapshot 'nope' does not exist", 404)
    refused(n.request("DELETE", f"{base}/nope"), None, "does not exist", 404)
    refused(n.get(f"{base}/nope/config"), None, "does not exist", 404)
    refused(n.post(f"/nodes/{n.name}/qemu/999/snapshot", {"snapname": "xy"}), None,
            "does not exist", 404)
    expect(conf_text(n, 200) == before, "a refused call changed the config")
    expect(images(n, 200) == ["vm-200-disk-0.qcow2"], images(n, 200))
    expect(image_snapshots(n, 200, "vm-200-disk-0.qcow2") == ["s1"], "")


@case
def snapshot_with_ram_and_rollback(n):
    need("vm")
    task(n, n.post(f"/nodes/{n.name}/qemu/200/status/start"))
    serial = Serial(n.root, 200)
    try:
        serial.wait(r"GUEST-READY qga=on")
        shell(serial, "echo MARK-before > /tmp/mark; echo wrote-$(cat /tmp/mark)",
              r"wrote-MARK-before")
        t0 = time.time()
        task(n, n.post(f"/nodes/{n.name}/qemu/200/snapshot",
                       {"snapname": "s2", "vmstate": 1}), timeout=300)
        print(f"# snapshot with 192 MiB of RAM under TCG: {time.time() - t0:.1f} s", flush=True)
        expect(status(n, 200)["qmpstatus"] == "running", status(n, 200))
        shell(serial, "echo MARK-after > /tmp/mark; echo wrote-$(cat /tmp/mark)",
              r"wrote-MARK-after")
    finally:
        serial.close()
    s = snaps(n, 200)
    expect(s["s2"]["vmstate"] == 1 and s["s2"]["parent"] == "s1", s)
    expect(s["current"]["parent"] == "s2" and s["current"]["running"] == 1, s)
    vmstate = n.get(f"/nodes/{n.name}/qemu/200/snapshot/s2/config").data["vmstate"]
    expect(vmstate == "local:200/vm-200-state-s2.qcow2", vmstate)
    expect("vm-200-state-s2.qcow2" in images(n, 200), images(n, 200))
    pid = status(n, 200)["pid"]

    t0 = time.time()
    r = n.post(f"/nodes/{n.name}/qemu/200/snapshot/s2/rollback")
    task(n, r, timeout=300)
    print(f"# rollback with RAM: {time.time() - t0:.1f} s", flush=True)
    expect(vmlib.wait_gone(pid, 5), "the old QEMU still runs")
    st = wait_status(n, 200, "running")
    deadline = time.time() + 10
    while status(n, 200).get("qmpstatus") != "running" and time.time() < deadline:
        time.sleep(0.1)
    expect(status(n, 200)["qmpstatus"] == "running", status(n, 200))
    serial = Serial(n.root, 200)
    state["serial"] = serial
    m = shell(serial, "echo got-$(cat /tmp/mark)", r"got-(MARK-\w+)\r?\n")
    expect(m.group(1) == b"MARK-before", f"the guest's RAM did not come back: {m.group(0)}")
    text = conf_text(n, 200)
    expect("lock:" not in text and re.search(r"^parent: s2$", text, re.M), text)
    expect(st["pid"] != pid, st)


@case
def snapshot_of_a_running_vm_without_ram(n):
    need("serial")
    r = n.post(f"/nodes/{n.name}/qemu/200/snapshot", {"snapname": "s3"})
    st = task(n, r)
    # the agent is on: the guest's file systems frozen around the disks' snapshots
    log = vmlib.task_log(n, r.data)
    expect("issuing guest-agent 'fs-freeze' command" in log and "'fs-thaw'" in log, log)
    expect(st["exitstatus"] == "OK", f"the agent did not answer: {log}")
    s = snaps(n, 200)
    expect(s["s3"]["vmstate"] == 0 and s["s3"]["parent"] == "s2", s)
    expect("vm-200-state-s3.qcow2" not in images(n, 200), images(n, 200))
    # the running QEMU's image: listed with -U (QEMU holds its lock)
    expect(image_snapshots(n, 200, "vm-200-disk-0.qcow2") == ["s1", "s2", "s3"], "")


@case
def delete_snapshots_of_a_running_vm(n):
    need("serial")
    task(n, n.request("DELETE", f"/nodes/{n.name}/qemu/200/snapshot/s2"))
    s = snaps(n, 200)
    expect("s2" not in s and s["s3"]["parent"] == "s1", s)
    expect(images(n, 200) == ["vm-200-disk-0.qcow2"], f"the state volume stayed: {images(n, 200)}")
    task(n, n.request("DELETE", f"/nodes/{n.name}/qemu/200/snapshot/s3"))
    s = snaps(n, 200)
    expect(set(s) == {"s1", "current"} and s["current"]["parent"] == "s1", s)
    expect(image_snapshots(n, 200, "vm-200-disk-0.qcow2") == ["s1"], "")
    shell(state["serial"], "echo alive-$((6*7))", r"alive-42")


@case
def rollback_and_delete_of_a_stopped_vm(n):
    need("vm")
    serial = state.pop("serial", None)
    if serial:
        serial.close()
    task(n, n.post(f"/nodes/{n.name}/qemu/200/status/stop"))
    wait_status(n, 200, "stopped")
    r = n.request("PUT", f"/nodes/{n.name}/qemu/200/config", {"memory": 256})
    expect(r.status == 200, r)
    task(n, n.post(f"/nodes/{n.name}/qemu/200/snapshot/s1/rollback"))
    expect(status(n, 200)["status"] == "stopped", "a rollback without RAM started the VM")
    c = n.get(f"/nodes/{n.name}/qemu/200/config").data
    expect(c["memory"] == "192" and "lock" not in c, c)
    task(n, n.request("DELETE", f"/nodes/{n.name}/qemu/200/snapshot/s1"))
    s = snaps(n, 200)
    expect(list(s) == ["current"] and "parent" not in s["current"], s)
    text = conf_text(n, 200)
    expect("[" not in text and "parent:" not in text, text)
    expect(image_snapshots(n, 200, "vm-200-disk-0.qcow2") == [], "")


def wait_unlocked(n, vmid, timeout=30):
    deadline = time.time() + timeout
    while time.time() < deadline:
        c = n.get(f"/nodes/{n.name}/qemu/{vmid}/config").data
        if c and not c.get("lock"):
            return c
        time.sleep(0.1)
    raise AssertionError(f"VM {vmid} still locked")


def backing(n, path):
    r = subprocess.run(["qemu-img", "info", "-U", "--output=json", n.path(path)],
                       capture_output=True, text=True)
    expect(r.returncode == 0, r.stderr)
    return json.loads(r.stdout).get("backing-filename")


@case
def template(n):
    try:
        args = guest_args()
    except Skip as e:
        state["why"] = str(e)
        raise
    pvectl(n, "create", f"/nodes/{n.name}/qemu", "--vmid", "300", "--name", "tmpl",
           "--memory", "160", "--serial0", "socket", "--scsihw", "virtio-scsi-pci",
           "--net0", "virtio", "--scsi0", "local:1,format=qcow2", f"--args={args}")
    src = wait_unlocked(n, 300)
    # a mark on the disk that every clone must show the guest
    # and 32 MiB of data, so that a full copy takes a while and parallel clones overlap
    r = subprocess.run(["qemu-io", "-f", "qcow2", "-c", "write -P 0x5a 0 16",
                        "-c", "write -P 0x33 1M 32M",
                        n.path("var/lib/vz/images/300/vm-300-disk-0.qcow2")],
                       capture_output=True, text=True)
    expect(r.returncode == 0, r.stderr)
    r = n.post(f"/nodes/{n.name}/qemu/300/template")
    task(n, r)
    expect(r.data.split(":")[5] == "qmtemplate", r.data)
    c = n.get(f"/nodes/{n.name}/qemu/300/config").data
    expect(c["template"] == 1 and c["scsi0"].startswith("local:300/base-300-disk-0.qcow2,"), c)
    expect(images(n, 300) == ["base-300-disk-0.qcow2"], images(n, 300))
    mode = os.stat(n.path("var/lib/vz/images/300/base-300-disk-0.qcow2")).st_mode & 0o777
    expect(mode == 0o444, oct(mode))
    refused(n.post(f"/nodes/{n.name}/qemu/300/template"), None,
            "you can't convert a template to a template")
    r = n.post(f"/nodes/{n.name}/qemu/300/status/start")
    st = task(n, r, ok=False)
    expect(st["exitstatus"] != "OK", st)
    state["template"] = src["net0"]


@case
def linked_and_full_clone(n):
    net0 = need("template")
    r = n.post(f"/nodes/{n.name}/qemu/300/clone", {"newid": 301, "name": "linked"})
    task(n, r)
    expect(r.data.split(":")[5:7] == ["qmclone", "300"], r.data)
    c = n.get(f"/nodes/{n.name}/qemu/301/config").data
    expect(c["scsi0"].startswith("local:300/base-300-disk-0.qcow2/301/vm-301-disk-0.qcow2,"), c)
    expect(c["name"] == "linked" and "template" not in c and "lock" not in c, c)
    expect(c["net0"] != net0 and c["net0"].startswith("virtio=BC:24:11:"), (c["net0"], net0))
    expect(backing(n, "var/lib/vz/images/301/vm-301-disk-0.qcow2") ==
           "../300/base-300-disk-0.qcow2", "the linked clone has no backing file")
    # bwlimit is qemu-img convert's rate limit (1 GiB/s: no wait here, but taken)
    r = n.post(f"/nodes/{n.name}/qemu/300/clone", {"newid": 302, "full": 1, "bwlimit": 1048576,
                                                   "description": "a full copy"})
    task(n, r)
    c = n.get(f"/nodes/{n.name}/qemu/302/config").data
    expect(c["scsi0"].startswith("local:302/vm-302-disk-0.qcow2,"), c)
    expect(c["name"] == "Copy-of-VM-tmpl" and c["description"] == "a full copy", c)
    expect(backing(n, "var/lib/vz/images/302/vm-302-disk-0.qcow2") is None, "a full clone is backed")
    state["clones"] = True


@case
def clones_boot(n):
    need("clones")
    for vmid in (301, 302):
        task(n, n.post(f"/nodes/{n.name}/qemu/{vmid}/status/start"))
        serial = Serial(n.root, vmid)
        try:
            serial.wait(r"GUEST-READY")
            m = shell(serial, "echo disk-$(head -c 16 /dev/sda)-end", r"disk-(\w*)-end")
            expect(m.group(1) == b"Z" * 16, f"VM {vmid}: the template's disk is not seen: {m.group(0)}")
        finally:
            serial.close()
        task(n, n.post(f"/nodes/{n.name}/qemu/{vmid}/status/stop"))
        # the stop task has ended: the list and status/current say so at once, no wait
        listed = [v for v in n.get(f"/nodes/{n.name}/qemu").data if v["vmid"] == vmid]
        expect([v["status"] for v in listed] == ["stopped"], f"VM {vmid} listed as {listed}")
        st = status(n, vmid)
        expect(st["status"] == "stopped" and st["qmpstatus"] == "stopped", st)


@case
def ten_parallel_full_clones(n):
    need("clones")
    t0 = time.time()
    upids = {}
    for vmid in range(310, 320):
        r = n.post(f"/nodes/{n.name}/qemu/300/clone", {"newid": vmid, "full": 1})
        expect(r.status == 200, r)
        upids[vmid] = r.data
    for vmid, upid in upids.items():
        st = n.wait_task(upid, 300)
        expect(st.get("exitstatus") == "OK", f"clone {vmid}: {st} {vmlib.task_log(n, upid)}")
    print(f"# 10 full clones of one template started at once: {time.time() - t0:.1f} s",
          flush=True)
    for vmid in upids:
        expect(images(n, vmid) == [f"vm-{vmid}-disk-0.qcow2"], images(n, vmid))
        c = n.get(f"/nodes/{n.name}/qemu/{vmid}/config").data
        expect(c["scsi0"].startswith(f"local:{vmid}/vm-{vmid}-disk-0.qcow2,"), c)


@case
def clone_bad_input(n):
    need("clones")
    before = conf_text(n, 301)
    base = f"/nodes/{n.name}/qemu/300/clone"
    refused(n.post(base, {"newid": 301}), "newid", "already exists")
    refused(n.post(base, {"newid": 300}), "newid")
    refused(n.post(base, {"newid": 330, "target": "elsewhere"}), "target")
    refused(n.post(base, {"newid": 330, "storage": "nostore"}), "storage")
    refused(n.post(base, {"newid": 330, "full": 0, "format": "raw"}), "format")
    refused(n.post(f"/nodes/{n.name}/qemu/301/clone", {"newid": 330, "full": 0}), "full")
    refused(n.post(base, {"newid": 330, "snapname": "nosnap"}), "snapname")
    refused(n.post(base, {"newid": 330, "pool": "nopool"}), "pool")
    expect(conf_text(n, 301) == before, "a refused clone changed VM 301")
    expect(not os.path.exists(n.path(f"etc/pve/nodes/{n.name}/qemu-server/330.conf")),
           "a refused clone left a config")
    expect(images(n, 330) == [], images(n, 330))


@case
def template_with_a_linked_clone_stays(n):
    need("clones")
    tmpl = f"/nodes/{n.name}/qemu/300"
    clone_disk = "var/lib/vz/images/301/vm-301-disk-0.qcow2"
    # the template's disk made unused: freeing it is refused while the linked clone uses it
    r = n.request("PUT", f"{tmpl}/config", {"delete": "scsi0"})
    expect(r.status == 200, r)
    c = n.get(f"{tmpl}/config").data
    expect(c.get("unused0", "").startswith("local:300/base-300-disk-0.qcow2"), c)
    before = conf_text(n, 300)
    refused(n.request("PUT", f"{tmpl}/config", {"delete": "unused0"}), None,
            "base volume '300/base-300-disk-0.qcow2' is still in use by linked clones", 409)
    expect(conf_text(n, 300) == before, "a refused deletion changed the template")
    # destroying it fails in its task with Proxmox's text, and nothing goes
    st = task(n, n.request("DELETE", tmpl), ok=False)
    expect(st.get("exitstatus") ==
           "base volume 'local:300/base-300-disk-0.qcow2' is still in use by linked cloned", st)
    expect(conf_text(n, 300) == before, "a refused destroy changed the template")
    expect(images(n, 300) == ["base-300-disk-0.qcow2"], images(n, 300))
    expect(backing(n, clone_disk) == "../300/base-300-disk-0.qcow2", "the clone lost its backing")
    r = subprocess.run(["qemu-img", "info", "-U", "--backing-chain", n.path(clone_disk)],
                       capture_output=True, text=True)
    expect(r.returncode == 0, f"the linked clone's backing chain is broken: {r.stderr}")
    # without the clone the template goes, and its volume with it
    task(n, n.request("DELETE", f"/nodes/{n.name}/qemu/301"))
    expect(images(n, 301) == [], images(n, 301))
    task(n, n.request("DELETE", tmpl))
    expect(images(n, 300) == [], images(n, 300))
    expect(not os.path.exists(n.path(f"etc/pve/nodes/{n.name}/qemu-server/300.conf")),
           "the template's config stayed")


def guest_sectors(serial):
    m = shell(serial, "echo sectors-$(cat /sys/block/sda/size)", r"sectors-(\d+)\r?\n")
    return int(m.group(1))


def wait_sectors(serial, want):
    deadline = time.time() + 20
    while guest_sectors(serial) != want and time.time() < deadline:
        time.sleep(0.5)
    got = guest_sectors(serial)
    expect(got == want, f"the guest sees {got} sectors, not {want}: {serial.out[-600:]!r}")


@case
def resize_a_running_vm(n):
    need("vm")
    c = wait_unlocked(n, 200)
    expect(c["scsi0"].endswith("size=1G"), c)
    task(n, n.post(f"/nodes/{n.name}/qemu/200/status/start"))
    serial = Serial(n.root, 200)
    state["serial"] = serial
    serial.wait(r"GUEST-READY")
    wait_sectors(serial, 2097152)
    r = n.request("PUT", f"/nodes/{n.name}/qemu/200/resize", {"disk": "scsi0", "size": "+512M"})
    task(n, r)
    expect(r.data.split(":")[5] == "resize", r.data)
    c = n.get(f"/nodes/{n.name}/qemu/200/config").data
    expect(c["scsi0"].endswith("size=1536M"), c)
    wait_sectors(serial, 3145728)
    r = n.request("PUT", f"/nodes/{n.name}/qemu/200/resize", {"disk": "scsi0", "size": "2G"})
    task(n, r)
    expect(n.get(f"/nodes/{n.name}/qemu/200/config").data["scsi0"].endswith("size=2G"), "")
    wait_sectors(serial, 4194304)


@case
def resize_bad_input(n):
    need("vm")
    before = conf_text(n, 200)
    path = f"/nodes/{n.name}/qemu/200/resize"
    refused(n.request("PUT", path, {"disk": "scsi0", "size": "1G"}), "size", "shrinking")
    refused(n.request("PUT", path, {"disk": "scsi0", "size": "-1G"}), "size")
    refused(n.request("PUT", path, {"disk": "scsi0", "size": "10P"}), "size")
    refused(n.request("PUT", path, {"disk": "scsi5", "size": "+1G"}), "disk", "does not exist")
    refused(n.request("PUT", path, {"disk": "scsi0", "size": "+1G", "digest": "0" * 40}), "digest")
    expect(conf_text(n, 200) == before, "a refused resize changed the config")


@case
def move_disk_of_a_running_vm(n):
    need("vm")
    serial = need("serial")
    os.makedirs(n.path("srv/second"), exist_ok=True)
    r = n.post("/storage", {"storage": "second", "type": "dir", "path": n.path("srv/second"),
                            "content": "images"})
    expect(r.status == 200, r)
    r = n.post(f"/nodes/{n.name}/qemu/200/move_disk", {"disk": "scsi0", "storage": "second",
                                                      "delete": 1, "bwlimit": 1048576})
    task(n, r, timeout=300)
    expect(r.data.split(":")[5] == "qmmove", r.data)
    log = vmlib.task_log(n, r.data)
    expect("drive-mirror" in log, log)
    c = n.get(f"/nodes/{n.name}/qemu/200/config").data
    expect(c["scsi0"].startswith("second:200/vm-200-disk-0.qcow2,") and "unused0" not in c, c)
    expect(images(n, 200) == [], f"the source stayed: {images(n, 200)}")
    expect(os.listdir(n.path("srv/second/images/200")) == ["vm-200-disk-0.qcow2"], "")
    expect(guest_sectors(serial) == 4194304, "the guest lost its disk")
    # the guest's disk is the new volume: what the guest writes lands there
    shell(serial, "echo MOVED-DISK-MARK | dd of=/dev/sda bs=512 seek=8 conv=fsync 2>/dev/null;"
          " echo written-$?", r"written-0")

    pid = status(n, 200)["pid"]
    files = [os.readlink(f"/proc/{pid}/fd/{fd}") for fd in os.listdir(f"/proc/{pid}/fd")]
    files = [f for f in files if "/images/" in f]
    expect(files == [n.path("srv/second/images/200/vm-200-disk-0.qcow2")], files)


@case
def clone_of_a_running_vm(n):
    need("vm")
    need("serial")
    pid = status(n, 200)["pid"]
    r = n.post(f"/nodes/{n.name}/qemu/200/clone", {"newid": 210, "name": "live-copy"})
    task(n, r, timeout=300)
    expect("drive-mirror" in vmlib.task_log(n, r.data), vmlib.task_log(n, r.data))
    c = n.get(f"/nodes/{n.name}/qemu/210/config").data
    expect(c["scsi0"].startswith("second:210/vm-210-disk-0.qcow2,") and "size=2G" in c["scsi0"], c)
    # the copy holds what the guest wrote; the VM runs on, on its own disk
    r = subprocess.run(["qemu-io", "-f", "qcow2", "-r", "-c", "read -v 4096 16",
                        n.path("srv/second/images/210/vm-210-disk-0.qcow2")], capture_output=True)
    expect(b"4d 4f 56 45 44 2d 44 49 53 4b 2d 4d 41 52 4b" in r.stdout, r.stdout)
    expect(status(n, 200)["pid"] == pid and status(n, 200)["qmpstatus"] == "running", "")
    files = [os.readlink(f"/proc/{pid}/fd/{fd}") for fd in os.listdir(f"/proc/{pid}/fd")]
    files = [f for f in files if "/images/" in f]
    expect(files == [n.path("srv/second/images/200/vm-200-disk-0.qcow2")], files)
    task(n, n.request("DELETE", f"/nodes/{n.name}/qemu/210", {"purge": 1}))


def guest_has(serial, path):
    m = shell(serial, f"echo has-$(test -e {path} && echo Y || echo N)", r"has-([YN])\r?\n")
    return m.group(1) == b"Y"


def wait_guest(serial, path, want, timeout=20):
    deadline = time.time() + timeout
    while guest_has(serial, path) != want and time.time() < deadline:
        time.sleep(0.5)
    expect(guest_has(serial, path) == want,
           f"the guest {'lacks' if want else 'still has'} {path}: {serial.out[-400:]!r}")


@case
def hotplug_disks_and_a_nic(n):
    need("vm")
    serial = need("serial")
    path = f"/nodes/{n.name}/qemu/200/config"
    r = n.request("PUT", path, {"scsi1": "local:1,format=qcow2", "virtio1": "local:1",
                                "net1": "virtio"})
    expect(r.status == 200, r)
    c = n.get(path, {"current": 1}).data
    expect(c["scsi1"].startswith("local:200/vm-200-disk-") and "size=1G" in c["scsi1"], c)
    expect(c["virtio1"].startswith("local:200/vm-200-disk-") and c["net1"].startswith("virtio="),
           c)
    expect(n.get(f"/nodes/{n.name}/qemu/200/pending").data == [] or
           not any("pending" in p for p in n.get(f"/nodes/{n.name}/qemu/200/pending").data),
           "a hot-plugged device stayed pending")
    wait_guest(serial, "/sys/block/sdb", True)
    wait_guest(serial, "/sys/block/vda", True)
    # the VM has no other NIC: the guest calls this one eth0
    wait_guest(serial, "/sys/class/net/eth0", True)
    # what the defaults do not hot-plug stays pending, the answer as Proxmox's: no error
    r = n.request("PUT", path, {"cores": 2})
    expect(r.status == 200 and r.data is None, r)
    p = {e["key"]: e for e in n.get(f"/nodes/{n.name}/qemu/200/pending").data}
    expect(p["cores"].get("pending") == 2, p.get("cores"))
    m = shell(serial, "echo cpus-$(nproc)", r"cpus-(\d+)\r?\n")
    expect(m.group(1) == b"1", "a CPU was plugged")
    r = n.request("PUT", path, {"revert": "cores"})
    expect(r.status == 200, r)
    # and out again: the volumes freed (forced), the guest without them
    before = images(n, 200)
    r = n.request("PUT", path, {"delete": "scsi1,virtio1,net1", "force": 1})
    expect(r.status == 200, r)
    c = n.get(path).data
    expect(not any(k in c for k in ("scsi1", "virtio1", "net1", "unused0")), c)
    wait_guest(serial, "/sys/block/sdb", False)
    wait_guest(serial, "/sys/block/vda", False)
    wait_guest(serial, "/sys/class/net/eth0", False)
    expect(len(images(n, 200)) == len(before) - 2, (before, images(n, 200)))
    expect("[PENDING]" not in conf_text(n, 200), conf_text(n, 200))


@case
def suspend_to_disk_and_resume(n):
    need("vm")
    serial = state.pop("serial")
    try:
        shell(serial, "echo MARK-asleep > /tmp/mark; echo wrote-$(cat /tmp/mark)",
              r"wrote-MARK-asleep")
        pid = status(n, 200)["pid"]
        r = n.post(f"/nodes/{n.name}/qemu/200/status/suspend", {"todisk": 1})
        task(n, r, timeout=300)
    finally:
        serial.close()
    expect(vmlib.wait_gone(pid, 10), "QEMU still runs after a suspend to disk")
    wait_status(n, 200, "stopped")
    c = n.get(f"/nodes/{n.name}/qemu/200/config").data
    # the state goes where the first disk is (Proxmox's find_vmstate_storage): here "second"
    expect(c.get("lock") == "suspended" and
           c["vmstate"].startswith("second:200/vm-200-state-suspend-"), c)
    state_file = n.path("srv/second/images/200/" + c["vmstate"].split("/", 1)[1])
    expect(os.path.exists(state_file), state_file)
    refused(n.request("PUT", f"/nodes/{n.name}/qemu/200/config", {"name": "x"}), None,
            "VM is locked (suspended)", 409)
    r = n.post(f"/nodes/{n.name}/qemu/200/status/resume")
    task(n, r, timeout=300)
    wait_status(n, 200, "running")
    serial = Serial(n.root, 200)
    state["serial"] = serial
    m = shell(serial, "echo got-$(cat /tmp/mark)", r"got-(MARK-\w+)\r?\n")
    expect(m.group(1) == b"MARK-asleep", f"the guest's RAM did not come back: {m.group(0)}")
    c = n.get(f"/nodes/{n.name}/qemu/200/config").data
    expect("lock" not in c and "vmstate" not in c, c)
    expect(not os.path.exists(state_file), f"the state volume stayed: {state_file}")


@case
def move_disk_of_a_stopped_vm_and_unlink(n):
    need("vm")
    serial = state.pop("serial", None)
    if serial:
        serial.close()
    task(n, n.post(f"/nodes/{n.name}/qemu/200/status/stop"))
    wait_status(n, 200, "stopped")
    r = subprocess.run(["qemu-io", "-f", "qcow2", "-r", "-c", "read -v 4096 16",
                        n.path("srv/second/images/200/vm-200-disk-0.qcow2")],
                       capture_output=True)
    data = r.stdout
    # qemu-io's dump: the bytes of "MOVED-DISK-MARK"
    expect(b"4d 4f 56 45 44 2d 44 49 53 4b 2d 4d 41 52 4b" in data, data)
    r = n.post(f"/nodes/{n.name}/qemu/200/move_disk", {"disk": "scsi0", "storage": "local",
                                                      "format": "raw", "bwlimit": 1048576})
    task(n, r)
    c = n.get(f"/nodes/{n.name}/qemu/200/config").data
    expect(c["scsi0"].startswith("local:200/vm-200-disk-0.raw,"), c)
    expect(c["unused0"] == "second:200/vm-200-disk-0.qcow2", c)
    with open(n.path("var/lib/vz/images/200/vm-200-disk-0.raw"), "rb") as f:
        f.seek(8 * 512)
        expect(f.read(15) == b"MOVED-DISK-MARK", "the copy lost the guest's data")
    refused(n.post(f"/nodes/{n.name}/qemu/200/move_disk", {"disk": "scsi0", "storage": "local",
                                                          "format": "raw"}), "storage", "same")
    refused(n.post(f"/nodes/{n.name}/qemu/200/move_disk", {"disk": "scsi0", "storage": "nope"}),
            "storage")
    r = n.get(f"/nodes/{n.name}/qemu/200/feature", {"feature": "snapshot"})
    expect(r.status == 200 and r.data == {"hasFeature": 0, "nodes": [n.name]}, r)
    r = n.get(f"/nodes/{n.name}/qemu/200/feature", {"feature": "copy"})
    expect(r.status == 200 and r.data["hasFeature"] == 1, r)
    r = n.request("PUT", f"/nodes/{n.name}/qemu/200/unlink", {"idlist": "unused0"})
    expect(r.status == 200, r)
    c = n.get(f"/nodes/{n.name}/qemu/200/config").data
    expect("unused0" not in c, c)
    expect(os.listdir(n.path("srv/second/images/200")) == [], "the unlinked volume stayed")


@case
def reassign_a_disk_to_another_vm(n):
    need("vm")
    wait_status(n, 200, "stopped")
    task(n, n.post(f"/nodes/{n.name}/qemu", {"vmid": 201, "memory": 64, "virtio1": "local:1"}))
    before = (conf_text(n, 200), conf_text(n, 201))
    base = f"/nodes/{n.name}/qemu/200/move_disk"
    refused(n.post(base, {"disk": "scsi0", "target-vmid": 201, "target-disk": "virtio1"}),
            "target-disk", "already in use")
    refused(n.post(base, {"disk": "scsi0", "target-vmid": 201, "storage": "local"}),
            "target-vmid")
    refused(n.post(base, {"disk": "scsi0", "target-vmid": 201, "target-digest": "0" * 40}),
            "target-digest")
    refused(n.post(base, {"disk": "scsi0", "target-vmid": 999}), None, "does not exist", 404)
    expect((conf_text(n, 200), conf_text(n, 201)) == before, "a refused reassign changed a config")
    r = n.post(base, {"disk": "scsi0", "target-vmid": 201, "target-disk": "virtio0"})
    task(n, r)
    c200 = n.get(f"/nodes/{n.name}/qemu/200/config").data
    c201 = n.get(f"/nodes/{n.name}/qemu/201/config").data
    expect("scsi0" not in c200, c200)
    expect(c201["virtio0"].startswith("local:201/vm-201-disk-1.raw,") and "size=2G" in c201["virtio0"],
           c201)
    expect("vm-201-disk-1.raw" in images(n, 201) and "vm-200-disk-0.raw" not in images(n, 200),
           (images(n, 200), images(n, 201)))
    # and back, as it was
    task(n, n.post(f"/nodes/{n.name}/qemu/201/move_disk",
                   {"disk": "virtio0", "target-vmid": 200, "target-disk": "scsi0"}))
    expect(n.get(f"/nodes/{n.name}/qemu/200/config").data["scsi0"].startswith(
        "local:200/vm-200-disk-0.raw,"), n.get(f"/nodes/{n.name}/qemu/200/config").data)
    try:
        reassign_with_a_running_vm(n)
    finally:
        n.post(f"/nodes/{n.name}/qemu/201/status/stop")
        wait_status(n, 201, "stopped")
    task(n, n.request("DELETE", f"/nodes/{n.name}/qemu/201", {"purge": 1}))


def reassign_with_a_running_vm(n):
    """A running target gets the disk hot-plugged; a running source gives only an unused disk."""
    expect(n.request("PUT", f"/nodes/{n.name}/qemu/201/config", {"delete": "virtio1"}).status == 200,
           "delete virtio1")
    expect("unused0" in n.get(f"/nodes/{n.name}/qemu/201/config").data, "virtio1 not unused0")
    task(n, n.post(f"/nodes/{n.name}/qemu/201/status/start"))
    task(n, n.post(f"/nodes/{n.name}/qemu/200/move_disk",
                   {"disk": "scsi0", "target-vmid": 201, "target-disk": "virtio2"}))
    # hot-plugged: in the main section, nothing pending, the drive in the running QEMU
    pend = {e["key"]: e for e in n.get(f"/nodes/{n.name}/qemu/201/pending").data}
    expect(pend["virtio2"]["value"].startswith("local:201/vm-201-disk-") and
           "pending" not in pend["virtio2"], pend.get("virtio2"))
    vol = pend["virtio2"]["value"].split(",")[0]
    info = n.post(f"/nodes/{n.name}/qemu/201/monitor", {"command": "info block"}).data
    line = [x for x in info.splitlines() if x.startswith("drive-virtio2")]
    expect(line and vol.split("/")[1] in line[0], info)
    # the running source keeps the disk its QEMU uses; an unused one it can give
    before = (conf_text(n, 200), conf_text(n, 201))
    refused(n.post(f"/nodes/{n.name}/qemu/201/move_disk",
                   {"disk": "virtio2", "target-vmid": 200, "target-disk": "scsi0"}),
            "disk", "while the source VM is running - detach first")
    expect((conf_text(n, 200), conf_text(n, 201)) == before, "a refused reassign changed a config")
    task(n, n.post(f"/nodes/{n.name}/qemu/201/move_disk",
                   {"disk": "unused0", "target-vmid": 200, "target-disk": "unused3"}))
    c200 = n.get(f"/nodes/{n.name}/qemu/200/config").data
    expect(c200.get("unused3", "").startswith("local:200/vm-200-disk-") and
           "unused0" not in n.get(f"/nodes/{n.name}/qemu/201/config").data, c200)
    expect(n.request("PUT", f"/nodes/{n.name}/qemu/200/config", {"delete": "unused3"}).status == 200,
           "delete unused3")
    # stopped again, the disk goes back where it was
    task(n, n.post(f"/nodes/{n.name}/qemu/201/status/stop"))
    task(n, n.post(f"/nodes/{n.name}/qemu/201/move_disk",
                   {"disk": "virtio2", "target-vmid": 200, "target-disk": "scsi0"}))
    expect(n.get(f"/nodes/{n.name}/qemu/200/config").data["scsi0"].startswith("local:200/"),
           n.get(f"/nodes/{n.name}/qemu/200/config").data)


PLAYBOOK = """
- hosts: localhost
  gather_facts: false
  vars:
    api: &api
      api_host: "127.0.0.1:{port}"
      api_user: admin@pve
      api_password: "{password}"
      validate_certs: false
  tasks:
    - name: a disk
      community.general.proxmox_disk:
        <<: *api
        vmid: 400
        disk: scsi1
        storage: local
        size: 1
        format: qcow2
        state: present
    - name: grown
      community.general.proxmox_disk:
        <<: *api
        vmid: 400
        disk: scsi1
        size: +1G
        state: resized
    - name: a snapshot
      community.general.proxmox_snap:
        <<: *api
        vmid: 400
        snapname: ans1
        description: from ansible
        state: present
    - name: the snapshot again changes nothing
      community.general.proxmox_snap:
        <<: *api
        vmid: 400
        snapname: ans1
        state: present
      register: again
    - assert:
        that: not again.changed
    - name: rolled back
      community.general.proxmox_snap:
        <<: *api
        vmid: 400
        snapname: ans1
        state: rollback
    - name: the snapshot removed
      community.general.proxmox_snap:
        <<: *api
        vmid: 400
        snapname: ans1
        state: absent
    - name: moved
      community.general.proxmox_disk:
        <<: *api
        vmid: 400
        disk: scsi1
        target_storage: second
        delete_moved: true
        state: moved
        timeout: 120
    - name: gone
      community.general.proxmox_disk:
        <<: *api
        vmid: 400
        disk: scsi1
        state: absent
"""


@case
def ansible_snap_and_disk(n):
    if not shutil.which("ansible-playbook"):
        raise Skip("no ansible-playbook (Debian's ansible)")
    if not os.path.isdir(n.path("srv/second")):
        os.makedirs(n.path("srv/second"))
        r = n.post("/storage", {"storage": "second", "type": "dir", "path": n.path("srv/second"),
                                "content": "images"})
        expect(r.status == 200, r)
    task(n, n.post(f"/nodes/{n.name}/qemu", {"vmid": 400, "name": "ans", "memory": 64,
                                             "scsi0": "local:1,format=qcow2"}))
    vmlib.playbook(n, PLAYBOOK.format(port=n.port, password=n.admin_password))
    c = n.get(f"/nodes/{n.name}/qemu/400/config").data
    expect("scsi1" not in c and "parent" not in c, c)
    expect(list(snaps(n, 400)) == ["current"], snaps(n, 400))
    expect(images(n, 400) == ["vm-400-disk-0.qcow2"], images(n, 400))
    expect(os.listdir(n.path("srv/second/images/400")) == [], "the moved disk stayed")


if __name__ == "__main__":
    sys.exit(vmlib.vm_main("integration-vm-ops"))
