# timeout: 300
"""Ansible's community.general proxmox_kvm, proxmox_snap and proxmox_nic (Debian's ansible,
unchanged) against a real node, as a playbook written for Proxmox runs them: a VM created (no disk:
the test guest boots from its initrd), started, snapshotted while it runs, stopped (an ACPI shutdown
the guest answers), a NIC added to the stopped VM (on an empty bridge the test makes), changed, the
same change again reported unchanged, removed, the snapshot removed and the VM destroyed. The API's
view is checked between the playbooks. One guest boot; runs as root; every QEMU is stopped by PID at
the end."""

import os
import shutil
import signal
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from pvetest import Node, Skip, case, expect, run  # noqa: E402
import vmlib  # noqa: E402

state = {}
BIN = os.environ.get("PVED_BIN", os.path.join(vmlib.TOP, "build", "bin"))
VMID = 500
# pved refuses a NIC on a bridge that does not exist, as its start would: an empty bridge of the
# test's own, down and without ports (no traffic), removed at the end.
BRIDGE = f"ansbr{os.getpid() % 100000}"

HEAD = """
- hosts: localhost
  gather_facts: false
  vars:
    api: &api
      api_host: "127.0.0.1:{port}"
      api_user: admin@pve
      api_password: "{password}"
      validate_certs: false
  tasks:
"""

CREATE = """
    - name: a VM
      community.general.proxmox_kvm:
        <<: *api
        node: "{node}"
        vmid: {vmid}
        name: ansvm
        memory: 192
        agent: "1"
        serial:
          serial0: socket
        state: present
      register: created
    - assert:
        that: created.changed
    - name: the same VM again changes nothing
      community.general.proxmox_kvm:
        <<: *api
        node: "{node}"
        vmid: {vmid}
        name: ansvm
        state: present
      register: again
    - assert:
        that: not again.changed
"""

START = """
    - name: started
      community.general.proxmox_kvm:
        <<: *api
        vmid: {vmid}
        state: started
        timeout: 60
"""

SNAP_STOP_NIC = """
    - name: a snapshot of the running VM
      community.general.proxmox_snap:
        <<: *api
        vmid: {vmid}
        snapname: before
        description: from ansible
        state: present
    - name: stopped
      community.general.proxmox_kvm:
        <<: *api
        vmid: {vmid}
        state: stopped
        timeout: 90
    - name: a NIC
      community.general.proxmox_nic:
        <<: *api
        vmid: {vmid}
        interface: net0
        bridge: {bridge}
        model: virtio
        mac: "BC:24:11:00:00:01"
      register: nic
    - assert:
        that: nic.changed
    - name: the NIC changed
      community.general.proxmox_nic:
        <<: *api
        vmid: {vmid}
        interface: net0
        bridge: {bridge}
        model: e1000
        mac: "BC:24:11:00:00:01"
        tag: 12
        firewall: true
        rate: 10
      register: nic
    - assert:
        that: nic.changed
    - name: the same change again changes nothing
      community.general.proxmox_nic:
        <<: *api
        vmid: {vmid}
        interface: net0
        bridge: {bridge}
        model: e1000
        mac: "BC:24:11:00:00:01"
        tag: 12
        firewall: true
        rate: 10
      register: nic
    - assert:
        that: not nic.changed
"""

REMOVE = """
    - name: the NIC removed
      community.general.proxmox_nic:
        <<: *api
        vmid: {vmid}
        interface: net0
        state: absent
      register: nic
    - assert:
        that: nic.changed
    - name: the snapshot removed
      community.general.proxmox_snap:
        <<: *api
        vmid: {vmid}
        snapname: before
        state: absent
    - name: the VM destroyed
      community.general.proxmox_kvm:
        <<: *api
        vmid: {vmid}
        state: absent
      register: gone
    - assert:
        that: gone.changed
"""


def play(n, body):
    vmlib.playbook(n, HEAD.format(port=n.port, password=n.admin_password)
                   + body.format(node=n.name, vmid=VMID, bridge=BRIDGE))


def config(n):
    r = n.get(f"/nodes/{n.name}/qemu/{VMID}/config")
    expect(r.status == 200, r)
    return r.data


def wait_agent(n, timeout=vmlib.READY_LIMIT):
    """The guest is up (its agent answers): its acpid then answers the power button too."""
    deadline = time.time() + timeout
    while time.time() < deadline:
        if n.post(f"/nodes/{n.name}/qemu/{VMID}/agent/ping").status == 200:
            return
        time.sleep(0.5)
    raise AssertionError(f"the guest's agent did not answer in {timeout} s")


@case
def kvm_snap_nic_playbook(n):
    if not shutil.which("ansible-playbook"):
        raise Skip("no ansible-playbook (Debian's ansible)")
    g = vmlib.guest_image()
    if not shutil.which("ip"):
        raise Skip("no ip (iproute2)")
    r = subprocess.run(["ip", "link", "add", BRIDGE, "type", "bridge"], capture_output=True,
                       text=True)
    expect(r.returncode == 0, f"ip link add {BRIDGE}: {r.stderr}")
    state["bridge"] = True
    with open(os.path.join(g, "cmdline")) as f:
        cmdline = f.read().strip()
    play(n, CREATE)
    c = config(n)
    expect(c.get("name") == "ansvm" and int(c.get("memory", 0)) == 192
           and c.get("serial0") == "socket", c)
    # args is root's: set through the node's local socket, where the caller is root@pam
    r = subprocess.run([os.path.join(BIN, "pvectl"), "--root", n.root, "set",
                        f"/nodes/{n.name}/qemu/{VMID}/config",
                        f"--args=-kernel {g}/vmlinux -initrd {g}/initrd.gz -append '{cmdline}'"],
                       capture_output=True, text=True)
    expect(r.returncode == 0, f"pvectl set args: {r.stdout} {r.stderr}")
    play(n, START)
    expect(vmlib.status(n, VMID)["status"] == "running", vmlib.status(n, VMID))
    pid = vmlib.qemu_pid(n.root, VMID)
    wait_agent(n)
    t0 = time.time()
    play(n, SNAP_STOP_NIC)
    print(f"# snapshot, ACPI shutdown, three NIC runs: {time.time() - t0:.1f} s", flush=True)
    expect(vmlib.status(n, VMID)["status"] == "stopped", vmlib.status(n, VMID))
    expect(pid and vmlib.wait_gone(pid, 5), "QEMU still runs after the shutdown")
    snaps = {s["name"]: s for s in n.get(f"/nodes/{n.name}/qemu/{VMID}/snapshot").data}
    expect("before" in snaps and snaps["before"].get("description") == "from ansible", snaps)
    net0 = config(n).get("net0", "")
    # the module sends rate as a float; the value is kept as written, as Proxmox keeps it
    want = {"e1000=BC:24:11:00:00:01", f"bridge={BRIDGE}", "tag=12", "firewall=1", "rate=10.0"}
    expect(want <= set(net0.split(",")), net0)
    play(n, REMOVE)
    r = n.get(f"/nodes/{n.name}/qemu/{VMID}/config")
    expect(r.status != 200, r)
    expect(not os.path.exists(n.path(f"etc/pve/qemu-server/{VMID}.conf")), "config left")


def main():
    if os.geteuid() != 0:
        print("skip integration-vm-ansible: needs root")
        return 0
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(1))
    with Node() as n:
        try:
            n.login()
            return run(n)
        finally:
            vmlib.kill_vms(n.root)
            if state.get("bridge"):
                subprocess.run(["ip", "link", "del", BRIDGE], capture_output=True)


if __name__ == "__main__":
    sys.exit(main())
