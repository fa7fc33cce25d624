"""A NIC on a bridge hot-plugged into a running VM and out again, in a network namespace the test makes
(pved runs inside it, spoken to through its local socket with pvectl): the tap tap<vmid>i<n> is made by
pved, handed to QEMU over QMP with getfd, and is a port of the bridge; the guest sees the NIC; after the
deletion the guest has let go of it and the tap is gone. Runs as root; the namespace, pved and every QEMU
are removed by the test, also when it fails."""

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
from vmlib import Serial  # noqa: E402

NS = f"pvedops{os.getpid()}"
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


def config(root, node, vmid):
    return json.loads(pvectl(root, "get", f"/nodes/{node}/qemu/{vmid}/config").stdout)


def guest_has(serial, path):
    mark = len(serial.out)
    serial.sock.sendall(f"echo has-$(test -e {path} && echo Y || echo N)\n".encode())
    return serial.wait(r"has-([YN])\r?\n", timeout=30, since=mark).group(1) == b"Y"


def wait_guest(serial, path, want, timeout=20):
    deadline = time.time() + timeout
    while guest_has(serial, path) != want and time.time() < deadline:
        time.sleep(0.5)
    expect(guest_has(serial, path) == want, f"the guest: {path} {'missing' if want else 'stayed'}")


@case
def hotplug_a_nic_on_a_bridge(root):
    node = state["node"]
    g = vmlib.guest_image()
    with open(os.path.join(g, "cmdline")) as f:
        cmdline = f.read().strip()
    ip("-n", NS, "link", "add", "vmbr0", "type", "bridge")
    ip("-n", NS, "link", "set", "vmbr0", "up")
    pvectl(root, "create", f"/nodes/{node}/qemu", "--vmid", "410", "--memory", "160",
           "--serial0", "socket", "--kvm", "0",
           f"--args=-kernel {g}/vmlinux -initrd {g}/initrd.gz -append '{cmdline}'")
    deadline = time.time() + 30
    while config(root, node, 410).get("lock") and time.time() < deadline:
        time.sleep(0.1)
    pvectl(root, "create", f"/nodes/{node}/qemu/410/status/start")
    serial = Serial(root, 410)
    state["serial"] = serial
    serial.wait(r"GUEST-READY")
    expect(not guest_has(serial, "/sys/class/net/eth0"), "the guest has a NIC already")
    pvectl(root, "set", f"/nodes/{node}/qemu/410/config", "--net0",
           "virtio=BC:24:11:AA:BB:10,bridge=vmbr0")
    c = config(root, node, 410)
    expect(c.get("net0") == "virtio=BC:24:11:AA:BB:10,bridge=vmbr0", c)
    tap = link("tap410i0")
    expect(tap and tap.get("master") == "vmbr0" and "UP" in tap.get("flags", []), tap)
    wait_guest(serial, "/sys/class/net/eth0", True)
    m_mark = len(serial.out)
    serial.sock.sendall(b"echo mac-$(cat /sys/class/net/eth0/address)\n")
    m = serial.wait(r"mac-([0-9a-f:]{17})\r?\n", timeout=30, since=m_mark)
    expect(m.group(1) == b"bc:24:11:aa:bb:10", m.group(0))
    pvectl(root, "set", f"/nodes/{node}/qemu/410/config", "--delete", "net0")
    expect("net0" not in config(root, node, 410), config(root, node, 410))
    wait_guest(serial, "/sys/class/net/eth0", False)
    deadline = time.time() + 5
    while link("tap410i0") and time.time() < deadline:
        time.sleep(0.05)
    expect(link("tap410i0") is None, "the tap stayed after the NIC was unplugged")


def main():
    if os.geteuid() != 0:
        print("skip integration-vm-ops-net: needs root")
        return 0
    try:
        vmlib.guest_image()
    except Skip as e:
        print(f"skip integration-vm-ops-net: {e}")
        return 0
    if not shutil.which("ip") or not os.path.exists("/dev/net/tun"):
        print("skip integration-vm-ops-net: needs iproute2 and /dev/net/tun")
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
        if state.get("serial"):
            state["serial"].close()
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
