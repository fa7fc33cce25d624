"""Guests outlive pved: with a VM running (the test guest booted directly from its kernel, PVH), pved is
stopped and, after a restart, killed with SIGKILL; the guest keeps running through both, and each new pved
finds it again (same pid, the monitor answering) and can shut it down. A VM whose QEMU died while no pved
watched is reported stopped. Runs as root; every QEMU is stopped by PID at the end."""

import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from pvetest import BIN, Node, Skip, case, expect, run  # noqa: E402
import vmlib  # noqa: E402
from vmlib import Serial, status, task, wait_status  # noqa: E402

state = {}


def node(root):
    n = Node(root=root)
    n.start()
    n.login()
    return n


def pvectl(n, *args):
    r = subprocess.run([os.path.join(BIN, "pvectl"), "--root", n.root, *args],
                       capture_output=True, text=True)
    expect(r.returncode == 0, f"pvectl {args}: {r.stdout} {r.stderr}")
    return r.stdout


def attached(n, vmid, timeout=15):
    """The status once the new pved's monitor connection answers (running-qemu known)."""
    deadline = time.time() + timeout
    while time.time() < deadline:
        s = status(n, vmid)
        if s.get("running-qemu"):
            return s
        time.sleep(0.1)
    raise AssertionError(f"no monitor connection to VM {vmid}: {status(n, vmid)}")


@case
def start_guests(n):
    g = vmlib.guest_image()
    with open(os.path.join(g, "cmdline")) as f:
        cmdline = f.read().strip()
    args = f"-kernel {g}/vmlinux -initrd {g}/initrd.gz -append '{cmdline}'"
    # args is root's: set through the node's local socket, where the caller is root@pam
    pvectl(n, "create", f"/nodes/{n.name}/qemu", "--vmid", "300", "--name", "guest",
           "--memory", "192", "--serial0", "socket", "--agent", "1", f"--args={args}")
    task(n, n.post(f"/nodes/{n.name}/qemu/300/status/start"))
    serial = Serial(n.root, 300)
    try:
        serial.wait(r"GUEST-READY qga=on")
    finally:
        serial.close()
    # a second VM without a guest, whose QEMU will die while no pved watches
    task(n, n.post(f"/nodes/{n.name}/qemu", {"vmid": 301, "memory": 64, "vga": "none"}))
    task(n, n.post(f"/nodes/{n.name}/qemu/301/status/start"))
    state["pid300"] = wait_status(n, 300, "running")["pid"]
    state["pid301"] = wait_status(n, 301, "running")["pid"]


@case
def survives_a_stop_of_pved(n):
    pid = state.get("pid300")
    if not pid:
        raise Skip("the guest did not start")
    n.stop()
    expect(vmlib.alive(pid) and vmlib.alive(state["pid301"]), "a QEMU ended with pved")
    n2 = node(n.root)
    state["node"] = n2
    s = attached(n2, 300)
    expect(s["status"] == "running" and s["pid"] == pid and s["qmpstatus"] == "running", s)


@case
def survives_sigkill_of_pved(n):
    n2 = state.get("node")
    if not n2:
        raise Skip("no second pved")
    pid = state["pid300"]
    n2.proc.kill()
    n2.proc.wait()
    # the front goes with its pved's socket; the QEMUs stay
    time.sleep(0.5)
    expect(vmlib.alive(pid) and vmlib.alive(state["pid301"]), "a QEMU ended with pved")
    # meanwhile VM 301's QEMU dies, with no pved to see it
    os.kill(state["pid301"], signal.SIGKILL)
    expect(vmlib.wait_gone(state["pid301"], 5), "QEMU 301 did not die")
    n3 = node(n.root)
    state["node"] = n3
    s = attached(n3, 300)
    expect(s["status"] == "running" and s["pid"] == pid, s)
    r = n3.get(f"/nodes/{n3.name}/qemu", {"full": 1})
    by = {v["vmid"]: v for v in r.data}
    expect(by[300]["status"] == "running" and by[300]["pid"] == pid, by[300])
    expect(by[301]["status"] == "stopped" and "pid" not in by[301], by[301])
    r = n3.get("/cluster/resources", {"type": "vm"})
    by = {v["vmid"]: v for v in r.data}
    expect(by[300]["status"] == "running" and by[300]["uptime"] >= 1, by[300])


@case
def the_new_pved_shuts_it_down(n):
    n3 = state.get("node")
    if not n3:
        raise Skip("no third pved")
    task(n3, n3.post(f"/nodes/{n3.name}/qemu/300/status/shutdown", {"timeout": 60}))
    expect(vmlib.wait_gone(state["pid300"], 10), "QEMU still runs")
    wait_status(n3, 300, "stopped")
    # 301's leftovers (pid file, sockets of a killed QEMU) do not keep it from starting again
    task(n3, n3.post(f"/nodes/{n3.name}/qemu/301/status/start"))
    s = wait_status(n3, 301, "running")
    task(n3, n3.post(f"/nodes/{n3.name}/qemu/301/status/stop"))
    expect(vmlib.wait_gone(s["pid"], 10), "QEMU 301 still runs")


def main():
    if os.geteuid() != 0:
        print("skip integration-vm-reattach: needs root")
        return 0
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(1))
    root = tempfile.mkdtemp(prefix="pved-test-")
    n = Node(root=root)
    try:
        n.start()
        n.login()
        return run(n)
    finally:
        for other in (state.get("node"), n):
            if other:
                other.stop()
        vmlib.kill_vms(root)
        shutil.rmtree(root, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
