"""What the VM tests (test-vm-*.py) share: the test guest, tasks followed to their end, a VM's serial
console read as it boots, and the QEMUs of a node's root stopped by PID, also when a test fails
(guests outlive pved by design, so stopping the node does not stop them); and what the container
console tests share: a started busybox container, a file a typed command makes, their main."""

import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.parse

from pvetest import TOP, Node, Skip, expect, run

BUILD = os.path.join(TOP, "tools", "guest", "build-test-guest")
GUEST_DIR = os.path.join(TOP, "build", "test-guest")
QEMU = shutil.which("qemu-system-x86_64")
# A guest under TCG is ready in 3-15 s here; more while other builds run.
READY_LIMIT = 120


def need_root_and_qemu():
    if os.geteuid() != 0:
        raise Skip("needs root")
    if not QEMU:
        raise Skip("no qemu-system-x86_64 (package qemu-system-x86)")


def guest_image():
    """The test guest's directory (built once, then reused), or Skip."""
    need_root_and_qemu()
    r = subprocess.run([BUILD, GUEST_DIR], capture_output=True, text=True)
    if r.returncode == 77:
        raise Skip("test guest: " + r.stderr.strip())
    expect(r.returncode == 0, f"build-test-guest: {r.returncode} {r.stdout} {r.stderr}")
    return GUEST_DIR


def guest_args():
    """The `args` that boot the test guest's kernel and initramfs directly (PVH), or Skip."""
    g = guest_image()
    with open(os.path.join(g, "cmdline")) as f:
        cmdline = f.read().strip()
    return f"-kernel {g}/vmlinux -initrd {g}/initrd.gz -append '{cmdline}'"


def playbook(n, text, timeout=240):
    """Runs an Ansible playbook (Debian's ansible-playbook) on localhost against node n, or Skip; its
    output. The certificate is not checked (validate_certs: false in the playbook): the machine's
    REQUESTS_CA_BUNDLE and CURL_CA_BUNDLE would win over it, so they are dropped."""
    play = shutil.which("ansible-playbook")
    if not play:
        raise Skip("no ansible-playbook (Debian's ansible)")
    d = n.path("ansible")
    os.makedirs(d, exist_ok=True)
    path = os.path.join(d, "play.yml")
    with open(path, "w") as f:
        f.write(text)
    env = {k: v for k, v in os.environ.items()
           if k not in ("REQUESTS_CA_BUNDLE", "CURL_CA_BUNDLE")}
    env.update({"ANSIBLE_LOCAL_TEMP": d, "ANSIBLE_REMOTE_TEMP": d, "HOME": d,
                "ANSIBLE_PYTHON_INTERPRETER": "/usr/bin/python3", "PYTHONWARNINGS": "ignore"})
    r = subprocess.run([play, "-i", "localhost,", "-c", "local", path],
                       capture_output=True, text=True, env=env, timeout=timeout)
    expect(r.returncode == 0, f"ansible-playbook: {r.stdout[-3000:]} {r.stderr[-1000:]}")
    expect("failed=0" in r.stdout, r.stdout[-1500:])
    return r.stdout


def q(s):
    return urllib.parse.quote(s, safe="")


def task(n, r, timeout=180, ok=True):
    """Follows the UPID a call answered to its end; the exit status (expected 'OK' when ok)."""
    expect(r.status == 200 and isinstance(r.data, str) and r.data.startswith("UPID:"), r)
    st = n.wait_task(r.data, timeout)
    if ok:
        expect(st.get("exitstatus") == "OK" or str(st.get("exitstatus", "")).startswith("WARNINGS"),
               f"task {r.data}: {st} {task_log(n, r.data)}")
    return st


def task_log(n, upid):
    r = n.get(f"/nodes/{n.name}/tasks/{q(upid)}/log", {"limit": 500})
    return "\n".join(line["t"] for line in (r.data or []))


def status(n, vmid):
    r = n.get(f"/nodes/{n.name}/qemu/{vmid}/status/current")
    expect(r.status == 200, r)
    return r.data


def wait_status(n, vmid, want, timeout=30):
    deadline = time.time() + timeout
    while time.time() < deadline:
        st = status(n, vmid)
        if st["status"] == want:
            return st
        time.sleep(0.1)
    raise AssertionError(f"VM {vmid} not {want} in {timeout} s: {status(n, vmid)}")


def qemu_pid(root, vmid):
    try:
        with open(os.path.join(root, "run/qemu-server", f"{vmid}.pid")) as f:
            return int(f.read().strip())
    except (OSError, ValueError):
        return None


def alive(pid):
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().rsplit(")", 1)[1].split()[0] != "Z"
    except OSError:
        return False


def wait_gone(pid, timeout=30):
    deadline = time.time() + timeout
    while alive(pid) and time.time() < deadline:
        time.sleep(0.05)
    return not alive(pid)


def kill_cts(root):
    """Every container of this node's root: its init killed by the PID in run/lxc/<vmid>.pid when
    /proc says that process is the one the file names (its start time), so nothing else is ever hit;
    its monitor then ends and cleans up; rootfs mounts left behind are unmounted."""
    run_dir = os.path.join(root, "run/lxc")
    if not os.path.isdir(run_dir):
        return
    pids = []
    for name in os.listdir(run_dir):
        if not name.endswith(".pid"):
            continue
        try:
            words = open(os.path.join(run_dir, name)).read().split()
            pid, start = int(words[1]), words[2]
            with open(f"/proc/{pid}/stat") as f:
                if f.read().rsplit(")", 1)[1].split()[19] != start:
                    continue
            os.kill(pid, signal.SIGKILL)
            pids.append(pid)
        except (OSError, ValueError, IndexError):
            pass
    for pid in pids:
        wait_gone(pid, 5)
    time.sleep(0.3)
    for name in os.listdir(run_dir):
        path = os.path.join(run_dir, name)
        if os.path.ismount(path):
            subprocess.run(["umount", "-l", path])


def kill_vms(root):
    """Every QEMU of this node's root, by the PID in its pid file, when its command line names the
    root (so nothing else is ever hit)."""
    rundir = os.path.join(root, "run/qemu-server")
    if not os.path.isdir(rundir):
        return
    for name in os.listdir(rundir):
        if not name.endswith(".pid"):
            continue
        pid = qemu_pid(root, name[:-4])
        if not pid:
            continue
        try:
            with open(f"/proc/{pid}/cmdline", "rb") as f:
                cmd = f.read()
        except OSError:
            continue
        if rundir.encode() in cmd:
            os.kill(pid, signal.SIGKILL)
            wait_gone(pid, 5)


class Serial:
    """A VM's serial0 socket, read in the background; QEMU drops the output while no one listens,
    so it is connected right after the start."""

    def __init__(self, root, vmid, timeout=10):
        path = os.path.join(root, "run/qemu-server", f"{vmid}.serial0")
        deadline = time.time() + timeout
        self.sock = socket.socket(socket.AF_UNIX)
        while True:
            try:
                self.sock.connect(path)
                break
            except OSError:
                if time.time() > deadline:
                    raise
                time.sleep(0.02)
        self.sock.settimeout(0.5)
        self.out = b""

    def wait(self, pattern, timeout=READY_LIMIT, since=0):
        rx = re.compile(pattern.encode())
        deadline = time.time() + timeout
        while True:
            m = rx.search(self.out, since)
            if m:
                return m
            if time.time() > deadline:
                raise AssertionError(f"no {pattern!r} on serial0 in {timeout} s: "
                                     f"{self.out[-800:].decode(errors='replace')}")
            try:
                chunk = self.sock.recv(65536)
                if not chunk:
                    raise AssertionError(f"serial0 closed: {self.out[-800:]!r}")
                self.out += chunk
            except socket.timeout:
                pass

    def close(self):
        self.sock.close()


def vm_main(name):
    """The VM tests' main: as root, one node logged in as admin@pve, every case run, and every QEMU the
    node started killed by its PID at the end, also when a case fails or the runner stops the test."""
    if os.geteuid() != 0:
        print(f"skip {name}: needs root")
        return 0
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(1))
    with Node() as n:
        try:
            n.login()
            return run(n)
        finally:
            kill_vms(n.root)


CT_TEMPLATE = "busybox-test_amd64.tar.gz"


def ct_template(n):
    """The busybox template (tools/ct), made once per node root: its volume id."""
    cache = n.path("var/lib/vz/template/cache")
    path = os.path.join(cache, CT_TEMPLATE)
    if not os.path.exists(path):
        os.makedirs(cache, exist_ok=True)
        r = subprocess.run([os.path.join(TOP, "tools/ct/mk-busybox-template"), path],
                           capture_output=True, text=True)
        if r.returncode != 0:
            raise Skip(f"mk-busybox-template failed: {r.stderr.strip()}")
    return f"local:vztmpl/{CT_TEMPLATE}"


def start_busybox_ct(n, vmid, hostname):
    """A container of the busybox template, started: a shell on tty1."""
    task(n, n.post(f"/nodes/{n.name}/lxc", {
        "vmid": vmid, "ostemplate": ct_template(n), "rootfs": "local:1",
        "hostname": hostname, "start": 1}), timeout=120)


def ct_file_appears(n, vmid, path, timeout=10):
    """Whether path comes to exist inside the running container within timeout (the exec API's
    `test -e`), as a command typed on a console makes it."""
    deadline = time.time() + timeout
    while True:
        r = n.request("POST", f"/nodes/{n.name}/lxc/{vmid}/exec",
                      {"command": ["test", "-e", path]}, json_body=True)
        if r.status == 200 and r.data["exitcode"] == 0:
            return True
        if time.time() > deadline:
            return False
        time.sleep(0.2)


def ct_main(cleanup=None):
    """The container tests' main: as root, one node logged in, every case run, and every container
    killed by its PID at the end, then cleanup(n) when given, also when a case fails."""
    if os.geteuid() != 0:
        print("skip all: needs root")
        return 0
    with Node() as n:
        n.login()
        try:
            return run(n)
        finally:
            kill_cts(n.root)
            if cleanup:
                cleanup(n)
