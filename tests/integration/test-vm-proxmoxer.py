"""A real client: proxmoxer (Debian's python3-proxmoxer) creates a VM, starts it, reads its status, stops it
and deletes it, following each task to its end through the task API, as scripts written for Proxmox do;
and it finds the VM through /cluster/resources first, as Ansible's proxmox_kvm does. Runs as root."""

import os
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from pvetest import Node, Skip, case, expect, run  # noqa: E402
import vmlib  # noqa: E402


def api(n):
    try:
        from proxmoxer import ProxmoxAPI
    except ImportError:
        raise Skip("python3-proxmoxer is not installed")
    return ProxmoxAPI("127.0.0.1", port=n.port, user="admin@pve", password=n.admin_password,
                      verify_ssl=False)


def wait(px, node, upid, timeout=120):
    deadline = time.time() + timeout
    while time.time() < deadline:
        st = px.nodes(node).tasks(upid).status.get()
        if st["status"] == "stopped":
            expect(st["exitstatus"] == "OK" or st["exitstatus"].startswith("WARNINGS"), st)
            return st
        time.sleep(0.2)
    raise AssertionError(f"task {upid} did not end")


@case
def lifecycle(n):
    vmlib.need_root_and_qemu()
    px = api(n)
    node = px.nodes.get()[0]["node"]
    vmid = int(px.cluster.nextid.get())
    upid = px.nodes(node).qemu.post(vmid=vmid, name="px-vm", memory=128, cores=1, sockets=1,
                                    scsi0="local:1", scsihw="virtio-scsi-pci", net0="virtio",
                                    ostype="l26", vga="std")
    wait(px, node, upid)
    vms = [r for r in px.cluster.resources.get(type="vm") if r["vmid"] == vmid]
    expect(len(vms) == 1 and vms[0]["name"] == "px-vm" and vms[0]["node"] == node, vms)
    conf = px.nodes(node).qemu(vmid).config.get()
    expect(conf["name"] == "px-vm" and conf["scsi0"].startswith(f"local:{vmid}/"), conf)
    wait(px, node, px.nodes(node).qemu(vmid).status.start.post())
    st = px.nodes(node).qemu(vmid).status.current.get()
    expect(st["status"] == "running" and st["pid"] > 0 and st["qmpstatus"] == "running", st)
    pid = st["pid"]
    px.nodes(node).qemu(vmid).config.put(description="set by proxmoxer", onboot=1)
    expect(px.nodes(node).qemu(vmid).config.get()["description"] == "set by proxmoxer", "")
    wait(px, node, px.nodes(node).qemu(vmid).status.stop.post())
    expect(vmlib.wait_gone(pid, 10), "QEMU still runs")
    expect(px.nodes(node).qemu(vmid).status.current.get()["status"] == "stopped", "")
    wait(px, node, px.nodes(node).qemu(vmid).delete(purge=1))
    expect(vmid not in [v["vmid"] for v in px.nodes(node).qemu.get()], "the VM is listed")
    expect(not os.path.isdir(n.path(f"var/lib/vz/images/{vmid}")) or
           not os.listdir(n.path(f"var/lib/vz/images/{vmid}")), "its disk stayed")


def main():
    if os.geteuid() != 0:
        print("skip integration-vm-proxmoxer: needs root")
        return 0
    # Python requests lets these variables win over verify=False (ENVIRONMENT.md)
    for var in ("REQUESTS_CA_BUNDLE", "CURL_CA_BUNDLE"):
        os.environ.pop(var, None)
    with Node() as n:
        try:
            n.login()
            return run(n)
        finally:
            vmlib.kill_vms(n.root)


if __name__ == "__main__":
    sys.exit(main())
