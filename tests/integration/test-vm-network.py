"""A VM's NIC on a bridge, in a network namespace the test makes: pved runs inside it (spoken to through its
local socket with pvectl, which crosses namespaces), the bridge is the namespace's; a started VM's NIC is
the tap tap<vmid>i<n>, a port of that bridge, which goes with QEMU. A NIC on a missing bridge is refused
when the VM is created and when it starts, naming the NIC. Runs as root; the namespace, pved and every
QEMU are removed by the test, also when it fails."""

import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from pvetest import BIN, Skip, case, expect, free_port, run  # noqa: E402
import vmlib  # noqa: E402

NS = f"pvedvm{os.getpid()}"
state = {}


def ip(*args, check=True):
    r = subprocess.run(["ip", *args], capture_output=True, text=True)
    if check:
        expect(r.returncode == 0, f"ip {args}: {r.stderr}")
    return r


def pvectl(root, *args, ok=True):
    r = subprocess.run([os.path.join(BIN, "pvectl"), "--root", root, "--output-format", "json",
                        *args], capture_output=True, text=True)
    if ok:
        expect(r.returncode == 0, f"pvectl {args}: {r.stdout} {r.stderr}")
    return r


def link(name):
    r = ip("-n", NS, "-j", "link", "show", name, check=False)
    return json.loads(r.stdout)[0] if r.returncode == 0 and r.stdout.strip() else None


def status(root, node, vmid):
    r = pvectl(root, "get", f"/nodes/{node}/qemu/{vmid}/status/current")
    return json.loads(r.stdout)


@case
def nic_on_a_bridge(root):
    node = state["node"]
    ip("-n", NS, "link", "add", "vmbr0", "type", "bridge")
    ip("-n", NS, "link", "set", "vmbr0", "up")
    pvectl(root, "create", f"/nodes/{node}/qemu", "--vmid", "400", "--memory", "64", "--vga",
           "none", "--net0", "virtio=BC:24:11:AA:BB:01,bridge=vmbr0", "--kvm", "0")
    # showcmd: the line a start runs, without opening taps (their names instead); in the
    # namespace, whose bridges it checks
    r = subprocess.run(["ip", "netns", "exec", NS, os.path.join(BIN, "pvectl"), "--root", root, "vm",
                        "showcmd", "400"], capture_output=True, text=True)
    expect(r.returncode == 0 and r.stdout.startswith("/usr/bin/qemu-system-x86_64 ") and
           "-netdev type=tap,id=net0,ifname=tap400i0,script=no,downscript=no" in r.stdout and
           "virtio-net-pci,netdev=net0,id=net0,mac=BC:24:11:AA:BB:01" in r.stdout and
           "-machine type=pc,accel=tcg" in r.stdout, f"{r.stdout} {r.stderr}")
    pvectl(root, "create", f"/nodes/{node}/qemu/400/status/start")
    tap = link("tap400i0")
    expect(tap and tap.get("master") == "vmbr0", f"tap400i0: {tap}")
    expect("UP" in tap.get("flags", []), tap)
    st = status(root, node, 400)
    expect(st["status"] == "running", st)
    with open(f"/proc/{st['pid']}/cmdline", "rb") as f:
        cmd = f.read().split(b"\0")
    netdev = [a for a in cmd if a.startswith(b"type=tap,id=net0,fd=")]
    expect(netdev, cmd)
    pvectl(root, "create", f"/nodes/{node}/qemu/400/status/stop")
    expect(vmlib.wait_gone(st["pid"], 10), "QEMU still runs")
    deadline = time.time() + 5
    while link("tap400i0") and time.time() < deadline:
        time.sleep(0.05)
    expect(link("tap400i0") is None, "the tap stayed after QEMU ended")


@case
def nic_on_a_missing_bridge(root):
    node = state["node"]
    r = pvectl(root, "create", f"/nodes/{node}/qemu", "--vmid", "401", "--net0",
               "virtio,bridge=nobr0", ok=False)
    expect(r.returncode != 0 and "net0" in r.stderr and "bridge 'nobr0' does not exist" in r.stderr,
           f"{r.stdout} {r.stderr}")
    expect(not os.path.exists(os.path.join(root, f"etc/pve/nodes/{node}/qemu-server/401.conf")),
           "a config was left")
    # the bridge goes while the VM is stopped: the start fails naming the NIC
    ip("-n", NS, "link", "del", "vmbr0")
    r = pvectl(root, "create", f"/nodes/{node}/qemu/400/status/start", ok=False)
    expect(r.returncode != 0 and "bridge 'vmbr0' does not exist" in r.stdout + r.stderr,
           f"{r.stdout} {r.stderr}")
    expect(status(root, node, 400)["status"] == "stopped", "the VM runs")


def main():
    if os.geteuid() != 0:
        print("skip integration-vm-network: needs root")
        return 0
    try:
        vmlib.need_root_and_qemu()
    except Skip as e:
        print(f"skip integration-vm-network: {e}")
        return 0
    if not shutil.which("ip") or not os.path.exists("/dev/net/tun"):
        print("skip integration-vm-network: needs iproute2 and /dev/net/tun")
        return 0
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(1))
    root = tempfile.mkdtemp(prefix="pved-test-")
    state["node"] = "netnode"
    proc = None
    log = open(os.path.join(root, "pved.log"), "ab")
    try:
        ip("netns", "add", NS)
        ip("-n", NS, "link", "set", "lo", "up")
        proc = subprocess.Popen(["ip", "netns", "exec", NS, os.path.join(BIN, "pved"), "--root", root,
                                 "--listen", f"127.0.0.1:{free_port()}", "--node", "netnode",
                                 "--foreground"], stdout=log, stderr=subprocess.STDOUT,
                                stdin=subprocess.DEVNULL)
        deadline = time.time() + 20
        while not os.path.exists(os.path.join(root, "run/pved.sock")) and time.time() < deadline:
            expect(proc.poll() is None, "pved exited")
            time.sleep(0.05)
        return run(root)
    finally:
        vmlib.kill_vms(root)
        if proc and proc.poll() is None:
            proc.send_signal(signal.SIGTERM)
            try:
                proc.wait(10)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
        ip("netns", "del", NS, check=False)
        log.close()
        shutil.rmtree(root, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
