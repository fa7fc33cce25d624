"""Bad input to the VM endpoints on a real pved: invalid keys and values, a missing storage or volume, a
duplicate vmid, a NIC on a missing bridge, conflicting or unknown deletions, a stale digest, root-only
options, a protected VM, a locked VM and its lock held by another: each a clear error naming the parameter,
and nothing changed or left behind (no config, no volume). No guest boots here."""

import fcntl
import os
import sys
import time
import urllib.parse

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from pvetest import Node, case, expect, run  # noqa: E402
from vmlib import task  # noqa: E402


def conf_path(n, vmid):
    return n.path(f"etc/pve/nodes/{n.name}/qemu-server/{vmid}.conf")


def images(n, vmid):
    d = n.path(f"var/lib/vz/images/{vmid}")
    return sorted(os.listdir(d)) if os.path.isdir(d) else []


def nothing_left(n, vmid):
    expect(not os.path.exists(conf_path(n, vmid)), f"a config of VM {vmid} was left")
    expect(images(n, vmid) == [], f"volumes of VM {vmid} were left: {images(n, vmid)}")


def refused(r, param, words=None, status=400):
    expect(r.status == status, r)
    if param:
        errors = (r.json or {}).get("errors") or {}
        expect(param in errors, f"errors do not name {param}: {r}")
        if words:
            expect(words in errors[param], f"{param}: {errors[param]!r} lacks {words!r}")
    elif words:
        expect(words in (r.json or {}).get("message", ""), f"message lacks {words!r}: {r}")


def create(n, **params):
    return n.post(f"/nodes/{n.name}/qemu", params)


@case
def invalid_keys_and_values(n):
    cases = [
        ({"bogus": 1}, "bogus", "not defined in schema"),
        ({"cores": "abc"}, "cores", "type check ('integer') failed"),
        ({"memory": 8}, "memory", "minimum"),
        ({"scsi0": "local:1,cache=fast"}, "scsi0", "cache"),
        ({"net0": "virtio,bridge=vmbr0,tag=x"}, "net0", "tag"),
        ({"boot": "order=floppy"}, "boot", "invalid boot device 'floppy'"),
        ({"hotplug": "gpu"}, "hotplug", "unable to parse hotplug option"),
        ({"ostype": "beos"}, "ostype", "enumeration"),
        ({"net32": "virtio"}, "net32", "not defined in schema"),
        ({"scsi0": "nostorage"}, "scsi0", "unable to parse volume ID"),
        ({"virtio0": "local:1,import-from=local:import/x.qcow2"}, "virtio0",
         "'import-from' requires special syntax"),
    ]
    for params, param, words in cases:
        refused(create(n, vmid=200, **params), param, words)
        nothing_left(n, 200)


@case
def missing_storage_or_volume(n):
    refused(create(n, vmid=200, scsi0="nosuch:1"), "scsi0", "storage 'nosuch' does not exist")
    refused(create(n, vmid=200, storage="nosuch", scsi0="1"), "storage",
            "storage 'nosuch' does not exist")
    refused(create(n, vmid=200, scsi0="local:200/vm-200-disk-7.raw"), "scsi0",
            "volume 'local:200/vm-200-disk-7.raw' does not exist")
    refused(create(n, vmid=200, ide2="local:iso/missing.iso,media=cdrom"), "ide2",
            "does not exist")
    refused(create(n, vmid=200, virtio0="local:0,import-from=local:import/missing.qcow2"),
            "virtio0", "does not exist")
    iso = n.path("var/lib/vz/template/iso")
    os.makedirs(iso, exist_ok=True)
    with open(os.path.join(iso, "x.iso"), "wb") as f:
        f.write(b"\0" * 2048)
    refused(create(n, vmid=200, ide2="local:iso/x.iso"), "ide2",
            "explicit 'media=cdrom' is required for iso images")
    nothing_left(n, 200)


@case
def nic_on_a_missing_bridge(n):
    refused(create(n, vmid=200, net0="virtio,bridge=nosuchbr0"), "net0",
            "bridge 'nosuchbr0' does not exist")
    nothing_left(n, 200)


@case
def duplicate_vmid(n):
    task(n, create(n, vmid=201, name="first", memory=128, scsi0="local:1"))
    with open(conf_path(n, 201)) as f:
        before = f.read()
    refused(create(n, vmid=201, name="second", memory=256), "vmid",
            "unable to create VM 201 - VM 201 already exists on node")
    with open(conf_path(n, 201)) as f:
        expect(f.read() == before, "the existing config changed")
    expect(images(n, 201) == ["vm-201-disk-0.raw"], images(n, 201))


@case
def failed_create_leaves_nothing(n):
    # passes the checks, fails in the task: the import source is no image at all
    os.makedirs(n.path("var/lib/vz/import/bad.qcow2"), exist_ok=True)
    r = n.request("PUT", "/storage/local", {"content": "iso,vztmpl,backup,images,rootdir,import"})
    expect(r.status == 200, r)
    r = create(n, vmid=202, scsi0="local:1", virtio1="local:0,import-from=local:import/bad.qcow2")
    st = task(n, r, ok=False)
    expect(st["exitstatus"] != "OK" and "unable to create VM 202" in st["exitstatus"], st)
    nothing_left(n, 202)
    expect(n.get(f"/nodes/{n.name}/qemu/202/config").status == 404, "the VM exists")


@case
def config_changes_refused(n):
    path = f"/nodes/{n.name}/qemu/201/config"
    with open(conf_path(n, 201)) as f:
        before = f.read()
    digest = n.get(path).data["digest"]
    refused(n.request("PUT", path, {"delete": "bogus"}), "delete", "unknown option 'bogus'")
    refused(n.request("PUT", path, {"delete": "cores", "cores": 2}), "delete",
            "at the same time")
    refused(n.request("PUT", path, {"revert": "bogus"}), "revert", "unknown option 'bogus'")
    refused(n.request("PUT", path, {"cores": 2, "digest": "0" * 40}), "digest",
            "detected modified configuration")
    refused(n.request("PUT", path, {"cores": 2, "skiplock": 1}), "skiplock",
            "Only root may use this option.")
    refused(n.request("PUT", path, {"args": "-S"}), None, "only root can set 'args' config", 403)
    refused(n.request("PUT", path, {"scsi1": "nosuch:1"}), "scsi1", "does not exist")
    refused(n.request("PUT", path, {}), None, "no options specified")
    refused(n.post(path, {"net0": "virtio,bridge=nosuchbr0"}), "net0", "does not exist")
    with open(conf_path(n, 201)) as f:
        expect(f.read() == before, "the config changed")
    expect(n.get(path).data["digest"] == digest, "the digest changed")


@case
def protected_vm_is_not_destroyed(n):
    path = f"/nodes/{n.name}/qemu/201"
    expect(n.request("PUT", f"{path}/config", {"protection": 1}).status == 200, "")
    r = n.request("DELETE", path)
    expect(r.status == 400 and "protection mode enabled" in r.json["message"], r)
    r = n.request("PUT", f"{path}/config", {"delete": "scsi0"})
    expect(r.status >= 400 and "protection mode enabled" in r.json["message"], r)
    expect(os.path.exists(conf_path(n, 201)) and images(n, 201), "the VM went")
    expect(n.request("PUT", f"{path}/config", {"delete": "protection"}).status == 200, "")
    # background_delay: answered once the task is over
    r = n.post(f"{path}/config", {"onboot": 1, "background_delay": 10})
    expect(r.status == 200 and r.data.startswith("UPID:"), r)
    st = n.get(f"/nodes/{n.name}/tasks/{urllib.parse.quote(r.data, safe='')}/status").data
    expect(st["status"] == "stopped" and st["exitstatus"] == "OK", st)


@case
def locked_vm(n):
    path = f"/nodes/{n.name}/qemu/201"
    with open(conf_path(n, 201)) as f:
        text = f.read()
    with open(conf_path(n, 201), "w") as f:
        f.write(text + "lock: backup\n")
    deadline = time.time() + 5
    while n.get(f"/nodes/{n.name}/qemu").data[0].get("lock") != "backup" and time.time() < deadline:
        time.sleep(0.05)
    expect(n.get(f"/nodes/{n.name}/qemu").data[0].get("lock") == "backup", "the lock is not listed")
    r = n.request("PUT", f"{path}/config", {"cores": 3})
    expect(r.status == 409 and r.json["message"].startswith("VM is locked (backup)"), r)
    st = task(n, n.post(f"{path}/status/start"), ok=False)
    expect(st["exitstatus"] == "VM is locked (backup)", st)
    # background_delay: the answer waits for the task, and tells its failure
    r = n.post(f"{path}/config", {"cores": 3, "background_delay": 10})
    expect(r.status == 500 and "failed to update VM 201: VM is locked (backup)" in r.json["message"],
           r)
    r = n.request("DELETE", path)
    expect(r.status == 409, r)
    with open(conf_path(n, 201), "w") as f:
        f.write(text)


@case
def held_lock_times_out(n):
    lockdir = n.path("run/lock/qemu-server")
    os.makedirs(lockdir, exist_ok=True)
    lockfile = os.path.join(lockdir, "lock-201.conf")
    fd = os.open(lockfile, os.O_RDWR | os.O_CREAT, 0o644)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        t0 = time.time()
        r = n.request("PUT", f"/nodes/{n.name}/qemu/201/config", {"cores": 3}, conn=None)
        took = time.time() - t0
        expect(r.status == 409 and r.json["message"].strip() ==
               f"can't lock file '{lockfile}' - got timeout", r)
        expect(9 <= took < 20, f"waited {took:.1f} s")
        # others are served meanwhile: the wait is a timer, not a blocked loop
    finally:
        os.close(fd)
    r = n.request("PUT", f"/nodes/{n.name}/qemu/201/config", {"cores": 3})
    expect(r.status == 200, r)


@case
def unknown_vm(n):
    for method, path in (("GET", "/config"), ("GET", "/pending"), ("GET", "/status/current"),
                         ("POST", "/status/start"), ("DELETE", "")):
        r = n.request(method, f"/nodes/{n.name}/qemu/999{path}")
        expect(r.status == 404 and "does not exist" in r.json["message"], f"{method} {path}: {r}")


@case
def cleanup(n):
    task(n, n.request("DELETE", f"/nodes/{n.name}/qemu/201"))
    nothing_left(n, 201)


def main():
    if os.geteuid() != 0:
        print("skip integration-vm-badinput: needs root")
        return 0
    with Node() as n:
        n.login()
        return run(n)


if __name__ == "__main__":
    sys.exit(main())
