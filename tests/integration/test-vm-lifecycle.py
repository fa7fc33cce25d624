"""VMs through the API on a real pved, with real QEMU under TCG and the test guest: created from the ISO (on
the local storage) and from the qcow2 disk image (import-from); started, the guest's ready line read on
serial0; status/current running with QEMU's pid; suspend and resume; reset (the guest boots again);
shutdown through ACPI; stop; a change to a running VM kept in [PENDING] and applied at the next start;
destroy. Runs as root; every QEMU is stopped by PID at the end."""

import os
import shutil
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from pvetest import Skip, case, expect  # noqa: E402
import vmlib  # noqa: E402
from vmlib import Serial, status, task, wait_status  # noqa: E402

state = {}


def conf_text(n, vmid):
    with open(n.path(f"etc/pve/nodes/{n.name}/qemu-server/{vmid}.conf")) as f:
        return f.read()


def images(n, vmid):
    d = n.path(f"var/lib/vz/images/{vmid}")
    return sorted(os.listdir(d)) if os.path.isdir(d) else []


def need_guest():
    if "guest" not in state:
        raise Skip(state.get("why", "no test guest"))
    return state["guest"]


@case
def setup_guest(n):
    try:
        g = vmlib.guest_image()
    except Skip as e:
        state["why"] = str(e)
        raise
    state["guest"] = g
    iso = n.path("var/lib/vz/template/iso")
    os.makedirs(iso, exist_ok=True)
    shutil.copy(os.path.join(g, "guest.iso"), os.path.join(iso, "guest.iso"))
    imp = n.path("var/lib/vz/import")
    os.makedirs(imp, exist_ok=True)
    shutil.copy(os.path.join(g, "disk.qcow2"), os.path.join(imp, "disk.qcow2"))
    r = n.request("PUT", "/storage/local",
                  {"content": "iso,vztmpl,backup,images,rootdir,import"})
    expect(r.status == 200, r)


@case
def create_from_iso(n):
    need_guest()
    r = n.post(f"/nodes/{n.name}/qemu", {
        "vmid": 100, "name": "iso-vm", "memory": 256, "ostype": "l26",
        "ide2": "local:iso/guest.iso,media=cdrom", "scsi0": "local:1", "scsihw": "virtio-scsi-pci",
        "net0": "virtio", "serial0": "socket", "agent": 1, "boot": "order=ide2;scsi0",
        "description": "the test guest\nfrom its ISO", "tags": "test;iso"})
    task(n, r)
    r = n.get(f"/nodes/{n.name}/qemu/100/config")
    expect(r.status == 200, r)
    c = r.data
    expect(c["name"] == "iso-vm" and c["memory"] == "256" and c["agent"] == "1", c)
    expect(c["ide2"] == "local:iso/guest.iso,media=cdrom", c)
    expect(c["scsi0"] == "local:100/vm-100-disk-0.raw,size=1G", c)
    expect(c["net0"].startswith("virtio=BC:24:11:"), c)
    expect(c["description"] == "the test guest\nfrom its ISO", c)
    expect(c["smbios1"].startswith("uuid=") and len(c["vmgenid"]) == 36, c)
    expect(c["meta"].startswith("creation-qemu=") and len(c["digest"]) == 40, c)
    expect(images(n, 100) == ["vm-100-disk-0.raw"], images(n, 100))
    text = conf_text(n, 100)
    expect(text.startswith("#the test guest\n#from its ISO\n"), text)
    keys = [line.split(":")[0] for line in text.splitlines() if line and not line.startswith("#")]
    expect(keys == sorted(keys), f"keys written unsorted: {keys}")
    r = n.get(f"/nodes/{n.name}/qemu")
    expect(r.status == 200 and [v["vmid"] for v in r.data] == [100], r)
    expect(r.data[0]["status"] == "stopped" and r.data[0]["name"] == "iso-vm", r.data)
    expect(r.data[0]["maxmem"] == 256 << 20 and r.data[0]["maxdisk"] == 1 << 30, r.data)


@case
def iso_boots(n):
    need_guest()
    r = n.post(f"/nodes/{n.name}/qemu/100/status/start")
    st = task(n, r)
    serial = Serial(n.root, 100)
    try:
        t0 = time.time()
        serial.wait(r"GUEST-READY qga=on")
        print(f"# ISO: GUEST-READY {time.time() - t0:.1f} s after the start task", flush=True)
    finally:
        serial.close()
    s = status(n, 100)
    pid = vmlib.qemu_pid(n.root, 100)
    expect(s["status"] == "running" and s["pid"] == pid and s["qmpstatus"] == "running", s)
    expect(s["agent"] == 1 and s["name"] == "iso-vm" and s["ha"] == {"managed": 0}, s)
    expect(s.get("running-qemu", "").count(".") == 2 and s["uptime"] >= 0, s)
    expect("TCG" in vmlib.task_log(n, r.data), st)
    r = n.get(f"/nodes/{n.name}/qemu", {"full": 1})
    expect(r.data[0]["status"] == "running" and r.data[0]["pid"] == pid, r.data)
    expect(r.data[0]["qmpstatus"] == "running", r.data)
    with open(f"/proc/{pid}/cmdline", "rb") as f:
        cmd = f.read().split(b"\0")
    expect(b"accel=tcg" in b" ".join(cmd) and b"-daemonize" in cmd, cmd)
    state["iso_pid"] = pid


@case
def iso_shutdown(n):
    pid = state.get("iso_pid")
    if not pid:
        raise Skip("the ISO VM did not start")
    t0 = time.time()
    task(n, n.post(f"/nodes/{n.name}/qemu/100/status/shutdown", {"timeout": 60}))
    print(f"# ACPI shutdown to the task's end: {time.time() - t0:.2f} s", flush=True)
    expect(vmlib.wait_gone(pid, 5), "QEMU still runs after the shutdown")
    wait_status(n, 100, "stopped")
    expect(not os.path.exists(n.path("run/qemu-server/100.pid")), "the pid file stayed")


@case
def create_from_disk_image(n):
    need_guest()
    r = n.post(f"/nodes/{n.name}/qemu", {
        "vmid": 101, "name": "disk-vm", "memory": 256, "serial0": "socket",
        "virtio0": "local:0,import-from=local:import/disk.qcow2,format=qcow2"})
    st = task(n, r)
    c = n.get(f"/nodes/{n.name}/qemu/101/config").data
    expect(c["virtio0"].startswith("local:101/vm-101-disk-0.qcow2,") and "size=" in c["virtio0"], c)
    expect("import-from" not in c["virtio0"], c)
    expect(c["boot"] == "order=virtio0", c)
    expect(images(n, 101) == ["vm-101-disk-0.qcow2"], images(n, 101))
    log = vmlib.task_log(n, r.data)
    expect("importing disk" in log, log)


@case
def disk_boots(n):
    need_guest()
    task(n, n.post(f"/nodes/{n.name}/qemu/101/status/start"))
    serial = Serial(n.root, 101)
    state["serial101"] = serial
    t0 = time.time()
    serial.wait(r"GUEST-READY qga=")
    print(f"# disk: GUEST-READY {time.time() - t0:.1f} s after the start task", flush=True)
    s = wait_status(n, 101, "running")
    expect(s["pid"] == vmlib.qemu_pid(n.root, 101), s)
    state["disk_pid"] = s["pid"]


@case
def suspend_resume(n):
    if "disk_pid" not in state:
        raise Skip("the disk VM did not start")
    task(n, n.post(f"/nodes/{n.name}/qemu/101/status/suspend"))
    deadline = time.time() + 10
    while status(n, 101)["qmpstatus"] != "paused" and time.time() < deadline:
        time.sleep(0.05)
    expect(status(n, 101)["qmpstatus"] == "paused", status(n, 101))
    expect(status(n, 101)["status"] == "running", "a paused VM still runs")
    task(n, n.post(f"/nodes/{n.name}/qemu/101/status/resume"))
    deadline = time.time() + 10
    while status(n, 101)["qmpstatus"] != "running" and time.time() < deadline:
        time.sleep(0.05)
    expect(status(n, 101)["qmpstatus"] == "running", status(n, 101))


@case
def reset_reboots_the_guest(n):
    serial = state.get("serial101")
    if not serial:
        raise Skip("the disk VM did not start")
    mark = len(serial.out)
    task(n, n.post(f"/nodes/{n.name}/qemu/101/status/reset"))
    serial.wait(r"GUEST-READY qga=", since=mark)
    expect(status(n, 101)["pid"] == state["disk_pid"], "reset is no restart of QEMU")


@case
def pending_change_of_a_running_vm(n):
    if "disk_pid" not in state:
        raise Skip("the disk VM did not start")
    digest = n.get(f"/nodes/{n.name}/qemu/101/config").data["digest"]
    r = n.request("PUT", f"/nodes/{n.name}/qemu/101/config",
                  {"memory": 320, "name": "renamed", "onboot": 1, "digest": digest})
    expect(r.status == 200 and r.data is None, r)
    r = n.get(f"/nodes/{n.name}/qemu/101/pending")
    p = {item["key"]: item for item in r.data}
    expect(p["memory"]["value"] == "256" and p["memory"]["pending"] == "320", p["memory"])
    expect(p["name"] == {"key": "name", "value": "renamed"}, p["name"])
    expect(p["onboot"]["value"] == 1 and "pending" not in p["onboot"], p["onboot"])
    expect(n.get(f"/nodes/{n.name}/qemu/101/config", {"current": 1}).data["memory"] == "256", "")
    expect(n.get(f"/nodes/{n.name}/qemu/101/config").data["memory"] == "320", "")
    text = conf_text(n, 101)
    expect("[PENDING]\nmemory: 320\n" in text and "name: renamed\n" in text, text)
    # the old digest is stale now
    r = n.request("PUT", f"/nodes/{n.name}/qemu/101/config", {"cores": 2, "digest": digest})
    expect(r.status == 400 and "digest" in r.json["errors"], r)
    # a POST is a qmconfig task
    r = n.post(f"/nodes/{n.name}/qemu/101/config", {"cores": 2})
    st = task(n, r)
    expect(":qmconfig:101:" in r.data, r.data)
    expect(n.get(f"/nodes/{n.name}/qemu/101/config", {"current": 1}).data.get("cores") is None, "")
    r = n.get(f"/nodes/{n.name}/qemu")
    expect(r.data[[v["vmid"] for v in r.data].index(101)]["name"] == "renamed", r.data)


@case
def stop_then_start_applies_pending(n):
    pid = state.get("disk_pid")
    if not pid:
        raise Skip("the disk VM did not start")
    state.pop("serial101").close()
    task(n, n.post(f"/nodes/{n.name}/qemu/101/status/stop"))
    expect(vmlib.wait_gone(pid, 5), "QEMU still runs after the stop")
    wait_status(n, 101, "stopped")
    expect("[PENDING]" in conf_text(n, 101), "pending changes are applied at the start, not the stop")
    task(n, n.post(f"/nodes/{n.name}/qemu/101/status/start"))
    text = conf_text(n, 101)
    expect("[PENDING]" not in text and "memory: 320\n" in text and "cores: 2\n" in text, text)
    s = wait_status(n, 101, "running")
    with open(f"/proc/{s['pid']}/cmdline", "rb") as f:
        cmd = f.read().split(b"\0")
    expect(cmd[cmd.index(b"-m") + 1] == b"320", cmd)
    expect(s["maxmem"] == 320 << 20 and s["cpus"] == 2, s)
    task(n, n.post(f"/nodes/{n.name}/qemu/101/status/stop"))
    expect(vmlib.wait_gone(s["pid"], 5), "QEMU still runs after the stop")


@case
def destroy(n):
    for vmid in (100, 101):
        if not os.path.exists(n.path(f"etc/pve/nodes/{n.name}/qemu-server/{vmid}.conf")):
            continue
        task(n, n.request("DELETE", f"/nodes/{n.name}/qemu/{vmid}", {"purge": 1}))
        expect(not os.path.exists(n.path(f"etc/pve/nodes/{n.name}/qemu-server/{vmid}.conf")),
               "the config stayed")
        expect(images(n, vmid) == [], images(n, vmid))
        r = n.get(f"/nodes/{n.name}/qemu/{vmid}/status/current")
        expect(r.status == 404, r)
    expect(n.get(f"/nodes/{n.name}/qemu").data == [], "VMs listed after their destruction")


if __name__ == "__main__":
    sys.exit(vmlib.vm_main("integration-vm-lifecycle"))
