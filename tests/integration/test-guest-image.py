"""The test guests (tools/guest/build-test-guest): built once and then reused; booted with QEMU
directly under TCG as an ISO, a qcow2 disk and a PVH kernel; ready line on the serial port, a shell
there, the guest agent (ping, exec, file read), cloud-init drives as Proxmox writes them (NoCloud and
ConfigDrive v2) applied, and the ACPI power button. Runs as root; every QEMU is stopped by PID."""

import base64
import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from pvetest import TOP, Skip, case, expect, run  # noqa: E402

BUILD = os.path.join(TOP, "tools", "guest", "build-test-guest")
QEMU = shutil.which("qemu-system-x86_64")
# From QEMU's start. The three guests boot at once on two cores: idle, they are ready in about 10 s;
# with other builds running, 45 s was seen.
READY_LIMIT = 90
# system_powerdown to QEMU's exit; measured well under a second.
POWEROFF_LIMIT = 10

# A SHA-256 crypt hash as Proxmox stores cipassword ("openssl passwd -5 -salt pvedtest alice-pw").
ALICE_HASH = "$5$pvedtest$EL45qB6OLjVKflUY5BVOKa.aRCBABNTwF5YLpEYg711"
KEYS = ["ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIPvedTestKeyOne000000000000000000000000000 alice@test",
        "ssh-rsa AAAAB3NzaC1yc2EAAAADAQABAAABAQPvedTestKeyTwo alice@other"]

state = {}


def timed(f, *a, **kw):
    t0 = time.monotonic()
    r = f(*a, **kw)
    return r, time.monotonic() - t0


# --- cloud-init drives, with the contents Proxmox's qemu-server writes (PVE/QemuServer/Cloudinit.pm) ---

def pve_userdata(name, user, password, keys, searchdomain=None):
    host, fqdn = name, name
    if "." in name:
        host = name.split(".")[0]
    elif searchdomain:
        fqdn = f"{name}.{searchdomain}"
    s = f"#cloud-config\nhostname: {host}\nmanage_etc_hosts: true\nfqdn: {fqdn}\n"
    s += f"user: {user}\n"
    if password is not None:
        s += f"password: {password}\n"
    s += "ssh_authorized_keys:\n" + "".join(f"  - {k}\n" for k in keys)
    s += "chpasswd:\n  expire: False\nusers:\n  - default\npackage_upgrade: true\n"
    return s


def pve_nocloud_network(mac, addr, mask, gw, dns, search):
    return ("version: 1\nconfig:\n"
            "    - type: physical\n      name: eth0\n"
            f"      mac_address: '{mac}'\n      subnets:\n"
            f"      - type: static\n        address: '{addr}'\n        netmask: '{mask}'\n"
            f"        gateway: '{gw}'\n"
            f"    - type: nameserver\n      address:\n      - '{dns}'\n      search:\n      - '{search}'\n")


def pve_configdrive2_network(addr, mask, gw, dns, search):
    return ("auto lo\niface lo inet loopback\n\n"
            f"        dns_nameservers {dns}\n        dns_search {search}\n"
            f"auto eth0\niface eth0 inet static\n        address {addr}\n        netmask {mask}\n"
            f"        gateway {gw}\n")


def make_iso(work, name, label, files):
    """The drive as Proxmox makes it: genisoimage -iso-level 3 -J -R -V LABEL (or xorriso's mkisofs)."""
    tree = os.path.join(work, name + ".d")
    for rel, content in files.items():
        p = os.path.join(tree, rel)
        os.makedirs(os.path.dirname(p), exist_ok=True)
        with open(p, "w") as f:
            f.write(content)
    iso = os.path.join(work, name + ".iso")
    if shutil.which("genisoimage"):
        argv = ["genisoimage", "-quiet", "-iso-level", "3", "-J", "-R", "-V", label, "-o", iso, tree]
    elif shutil.which("xorriso"):
        argv = ["xorriso", "-as", "mkisofs", "-quiet", "-iso-level", "3", "-J", "-R", "-V", label,
                "-o", iso, tree]
    else:
        raise Skip("neither genisoimage nor xorriso to make a cloud-init drive")
    r = subprocess.run(argv, capture_output=True, text=True)
    expect(r.returncode == 0, f"{argv[0]} failed: {r.stderr}")
    return iso


# --- a guest under QEMU: serial on stdio, QMP and the agent on unix sockets ---

class Guest:
    def __init__(self, work, name, boot, extra=(), machine="q35"):
        self.dir = os.path.join(work, name)
        os.makedirs(self.dir)
        self.argv = [QEMU, "-accel", "tcg", "-M", machine, "-m", "256", "-smp", "1", "-nodefaults",
                     "-no-user-config", "-vga", "std", "-display", "none",
                     "-chardev", f"socket,id=qmp,path={self.dir}/qmp.sock,server=on,wait=off",
                     "-mon", "chardev=qmp,mode=control",
                     "-chardev", "stdio,id=ser0,signal=off", "-serial", "chardev:ser0",
                     "-device", "virtio-serial-pci,id=vser0",
                     "-chardev", f"socket,id=qga0,path={self.dir}/qga.sock,server=on,wait=off",
                     "-device", "virtserialport,bus=vser0.0,chardev=qga0,name=org.qemu.guest_agent.0",
                     *boot, *extra]
        self.proc = None
        self.out = b""
        self.arrivals = []  # (length of out after a chunk, when it came), for boot times
        self.cond = threading.Condition()
        self.qmp_sock = None
        self.qga_sock = None

    def __enter__(self):
        self.err = open(os.path.join(self.dir, "qemu.err"), "wb")
        self.t0 = time.monotonic()
        self.proc = subprocess.Popen(self.argv, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                     stderr=self.err)
        threading.Thread(target=self._reader, daemon=True).start()
        return self

    def __exit__(self, *exc):
        for s in (self.qmp_sock, self.qga_sock):
            if s:
                s.close()
        if self.proc.poll() is None:
            self.proc.kill()
        self.proc.wait()
        self.err.close()

    def _reader(self):
        while True:
            chunk = self.proc.stdout.read1(4096)
            with self.cond:
                if not chunk:
                    self.cond.notify_all()
                    return
                self.out += chunk
                self.arrivals.append((len(self.out), time.monotonic()))
                self.cond.notify_all()

    def serial_text(self):
        return self.out.decode(errors="replace").replace("\r", "")

    def wait_serial(self, pattern, timeout, since=0):
        """The first match of pattern in the serial output after byte since, or a failure."""
        rx = re.compile(pattern.encode())
        deadline = time.monotonic() + timeout
        with self.cond:
            while True:
                m = rx.search(self.out, since)
                if m:
                    return m
                left = deadline - time.monotonic()
                if left <= 0 or self.proc.poll() is not None:
                    tail = self.serial_text()[-1500:]
                    err = open(self.err.name, errors="replace").read()[-500:]
                    raise AssertionError(f"no {pattern!r} on the serial port in {timeout} s "
                                         f"(QEMU {'exited' if self.proc.poll() is not None else 'runs'}): "
                                         f"{tail}\n{err}")
                self.cond.wait(min(left, 0.5))

    def ready(self):
        """The agent state on the ready line; ready_after is when that line came, from QEMU's start."""
        left = READY_LIMIT - (time.monotonic() - self.t0)
        m = self.wait_serial(r"GUEST-READY qga=(\w+)\r?\n", max(left, 1))
        with self.cond:
            self.ready_after = next(t for n, t in self.arrivals if n >= m.end()) - self.t0
        return m.group(1).decode()

    def type_serial(self, line):
        self.proc.stdin.write(line.encode() + b"\n")
        self.proc.stdin.flush()

    def shell(self, timeout=15):
        """Proves the serial shell runs: it evaluates an expression; the shell starts after rcS,
        so the line is typed again until the answer comes."""
        deadline = time.monotonic() + timeout
        while True:
            mark = len(self.out)
            self.type_serial("echo SHELL-$((6*7))")
            try:
                return self.wait_serial(r"\nSHELL-42", 1.5, mark)
            except AssertionError:
                if time.monotonic() > deadline:
                    raise

    # QMP
    def qmp(self, cmd, args=None):
        if not self.qmp_sock:
            self.qmp_sock = socket.socket(socket.AF_UNIX)
            self.qmp_sock.settimeout(10)
            self.qmp_sock.connect(os.path.join(self.dir, "qmp.sock"))
            self.qmp_file = self.qmp_sock.makefile("rb")
            json.loads(self.qmp_file.readline())
            self.qmp("qmp_capabilities")
        msg = {"execute": cmd}
        if args:
            msg["arguments"] = args
        self.qmp_sock.sendall(json.dumps(msg).encode() + b"\n")
        while True:
            r = json.loads(self.qmp_file.readline())
            if "event" in r:
                continue
            expect("return" in r, f"QMP {cmd}: {r}")
            return r["return"]

    # guest agent
    def qga(self, cmd, args=None, timeout=10):
        if not self.qga_sock:
            self.qga_sock = socket.socket(socket.AF_UNIX)
            self.qga_sock.settimeout(timeout)
            self.qga_sock.connect(os.path.join(self.dir, "qga.sock"))
            # 0xFF resets the agent's parser; guest-sync-delimited answers after a 0xFF of its
            # own, so stale bytes before it are skipped.
            sync_id = int(time.time()) & 0xFFFFFF
            self.qga_sock.sendall(b"\xff" + json.dumps(
                {"execute": "guest-sync-delimited", "arguments": {"id": sync_id}}).encode() + b"\n")
            buf = b""
            while b"\xff" not in buf:
                buf += self.qga_sock.recv(4096)
            buf = buf[buf.index(b"\xff") + 1:]
            while b"\n" not in buf:
                buf += self.qga_sock.recv(4096)
            line, _, self.qga_buf = buf.partition(b"\n")
            expect(json.loads(line) == {"return": sync_id}, f"guest-sync answered {line!r}")
        msg = {"execute": cmd}
        if args:
            msg["arguments"] = args
        self.qga_sock.sendall(json.dumps(msg).encode() + b"\n")
        while b"\n" not in self.qga_buf:
            chunk = self.qga_sock.recv(65536)
            expect(chunk, f"agent closed the connection during {cmd}")
            self.qga_buf += chunk
        line, _, self.qga_buf = self.qga_buf.partition(b"\n")
        r = json.loads(line)
        expect("return" in r, f"agent {cmd}: {r}")
        return r["return"]

    def qga_exec(self, path, *args, timeout=10):
        pid = self.qga("guest-exec", {"path": path, "arg": list(args), "capture-output": True})["pid"]
        deadline = time.monotonic() + timeout
        while True:
            st = self.qga("guest-exec-status", {"pid": pid})
            if st.get("exited"):
                out = base64.b64decode(st.get("out-data", "")).decode()
                return st.get("exitcode"), out
            expect(time.monotonic() < deadline, f"guest-exec {path} did not finish in {timeout} s")
            time.sleep(0.05)

    def qga_read(self, path):
        h = self.qga("guest-file-open", {"path": path, "mode": "r"})
        data = b""
        try:
            while True:
                r = self.qga("guest-file-read", {"handle": h, "count": 65536})
                data += base64.b64decode(r["buf-b64"])
                if r["eof"] or len(data) > 1 << 20:
                    break
        finally:
            self.qga("guest-file-close", {"handle": h})
        return data.decode()

    def powerdown(self, agent=False):
        """system_powerdown (or the agent's guest-shutdown, which has no answer): the guest says
        GUEST-POWEROFF and QEMU exits; returns the seconds."""
        mark = len(self.out)
        t0 = time.monotonic()
        if agent:
            self.qga("guest-ping")
            self.qga_sock.sendall(b'{"execute": "guest-shutdown"}\n')
        else:
            self.qmp("system_powerdown")
        self.wait_serial(r"GUEST-POWEROFF", POWEROFF_LIMIT, mark)
        try:
            rc = self.proc.wait(POWEROFF_LIMIT)
        except subprocess.TimeoutExpired:
            raise AssertionError(f"QEMU still runs {POWEROFF_LIMIT} s after system_powerdown")
        took = time.monotonic() - t0
        expect(rc == 0, f"QEMU exited with {rc} after the power-off")
        return took


def need_image():
    if "image" not in state:
        raise Skip(state.get("why", "the image was not built"))
    return state["image"]


def cloudinit_line(g):
    m = g.wait_serial(r"GUEST-CLOUDINIT hostname=(\S*) user=(\S*) ip=(\S*)\r?\n", 1)
    return tuple(x.decode() for x in m.groups())


def check_agent_user(g, host, user, home, keys):
    expect(g.qga("guest-ping") == {}, "guest-ping")
    rc, out = g.qga_exec("hostname")
    expect(rc == 0 and out.strip() == host, f"hostname through guest-exec: {rc} {out!r}")
    passwd = g.qga_read("/etc/passwd")
    expect(re.search(rf"^{user}:x:\d+:\d+::{home}:/bin/sh$", passwd, re.M), passwd)
    auth = g.qga_read(f"{home}/.ssh/authorized_keys")
    expect(auth.splitlines() == keys, f"authorized_keys: {auth!r}")
    shadow = g.qga_read("/etc/shadow")
    m = re.search(rf"^{user}:([^:]*):", shadow, re.M)
    expect(m, shadow)
    return m.group(1)


# --- cases ---

@case
def build_then_reuse(work):
    img = os.path.join(work, "image")
    r, took = timed(subprocess.run, [BUILD, img], capture_output=True, text=True)
    if r.returncode == 77:
        state["why"] = r.stderr.strip()
        raise Skip(state["why"])
    expect(r.returncode == 0 and "test-guest: built" in r.stdout,
           f"first build: {r.returncode} {r.stdout} {r.stderr}")
    names = ["initrd.gz", "vmlinuz", "guest.iso", "disk.raw", "disk.qcow2", "cmdline"]
    if os.path.exists(os.path.join(img, "vmlinux")):
        names.append("vmlinux")
    before = {n: os.stat(os.path.join(img, n)).st_mtime_ns for n in names}
    r2, took2 = timed(subprocess.run, [BUILD, img], capture_output=True, text=True)
    expect(r2.returncode == 0 and "up to date" in r2.stdout, f"second run: {r2.stdout} {r2.stderr}")
    after = {n: os.stat(os.path.join(img, n)).st_mtime_ns for n in names}
    expect(before == after, "the second run rewrote files")
    print(f"# build {took:.2f} s, second run {took2:.2f} s", flush=True)
    state["image"] = img


# --- the guests: all started at once, after the build, so that their boots overlap ---

def spec_iso(work, img):
    """The ISO on a q35 AHCI cdrom, a NoCloud drive as Proxmox's ide2, a virtio NIC."""
    ci = make_iso(work, "nocloud", "cidata", {
        "user-data": pve_userdata("vm101", "alice", ALICE_HASH, KEYS, "example.com"),
        "meta-data": "instance-id: 5c0f1e8a6d2b\n",
        "network-config": pve_nocloud_network(ISO_MAC, "10.99.0.2", "255.255.255.0", "10.99.0.1",
                                              "10.99.0.1", "example.com"),
        "vendor-data": "",
    })
    boot = ["-drive", f"file={img}/guest.iso,if=ide,index=0,media=cdrom,readonly=on"]
    extra = ["-drive", f"file={ci},if=ide,index=2,media=cdrom,readonly=on",
             "-netdev", "hubport,id=net0,hubid=0", "-device", f"virtio-net-pci,netdev=net0,mac={ISO_MAC}"]
    return boot, extra, "q35"


def spec_disk(work, img):
    """The qcow2 disk (as an overlay) on virtio-blk, a pc machine, ConfigDrive v2 on its IDE cdrom
    (ata_piix), a plain password that the guest hashes."""
    ov = os.path.join(work, "overlay.qcow2")
    r = subprocess.run(["qemu-img", "create", "-q", "-f", "qcow2", "-b", f"{img}/disk.qcow2",
                        "-F", "qcow2", ov], capture_output=True, text=True)
    expect(r.returncode == 0, r.stderr)
    ci = make_iso(work, "configdrive", "config-2", {
        "openstack/latest/user_data": pve_userdata("cd102.example.net", "bob", "bob-pw", KEYS[:1]),
        "openstack/content/0000": pve_configdrive2_network("10.98.0.2", "255.255.255.0", "10.98.0.1",
                                                           "10.98.0.1", "example.net"),
        "openstack/latest/meta_data.json":
            '{\n     "uuid": "0f3c9a7e",\n     "network_config": { "content_path": "/content/0000" }\n}\n',
        "openstack/latest/vendor_data.json": "",
    })
    boot = ["-blockdev", f"driver=file,filename={ov},node-name=disk0-file",
            "-blockdev", "driver=qcow2,file=disk0-file,node-name=disk0",
            "-device", "virtio-blk-pci,drive=disk0,bootindex=0"]
    extra = ["-drive", f"file={ci},if=ide,index=2,media=cdrom,readonly=on",
             "-netdev", "hubport,id=net0,hubid=0", "-device", "virtio-net-pci,netdev=net0"]
    return boot, extra, "pc"


def spec_pvh(work, img):
    """The fast path: vmlinux through PVH with the initrd, and no cloud-init drive."""
    if not os.path.exists(os.path.join(img, "vmlinux")):
        raise Skip("no vmlinux: the kernel has no PVH entry")
    with open(os.path.join(img, "cmdline")) as f:
        cmdline = f.read().strip()
    return ["-kernel", f"{img}/vmlinux", "-initrd", f"{img}/initrd.gz", "-append", cmdline], [], "q35"


SPECS = {"iso": spec_iso, "disk": spec_disk, "pvh": spec_pvh}
ISO_MAC = "bc:24:11:0a:0b:01"


def guest(work, name):
    """The running guest NAME; the first call starts them all (each failure is kept for its case)."""
    img = need_image()
    if "guests" not in state:
        state["guests"] = {}
        for n, spec in SPECS.items():
            try:
                boot, extra, machine = spec(work, img)
                state["guests"][n] = Guest(work, n, boot, extra, machine).__enter__()
            except (Skip, AssertionError) as e:
                state["guests"][n] = e
    g = state["guests"][name]
    if isinstance(g, Exception):
        raise g
    return g


@case
def iso_with_nocloud_drive(work):
    g = guest(work, "iso")
    expect(g.ready() == "on", f"qga is not on: {g.serial_text()[-1500:]}")
    print(f"# ISO: GUEST-READY after {g.ready_after:.2f} s", flush=True)
    expect(cloudinit_line(g) == ("vm101", "alice", "10.99.0.2/24"), cloudinit_line(g))
    g.shell()
    expect(check_agent_user(g, "vm101", "alice", "/home/alice", KEYS) == ALICE_HASH, "shadow hash")
    hosts = g.qga_read("/etc/hosts")
    expect("vm101.example.com vm101" in hosts, hosts)
    resolv = g.qga_read("/etc/resolv.conf")
    expect("nameserver 10.99.0.1" in resolv and "search example.com" in resolv, resolv)
    ifs = g.qga("guest-network-get-interfaces")
    eth0 = [i for i in ifs if i["name"] == "eth0"]
    expect(eth0 and eth0[0]["hardware-address"] == ISO_MAC, ifs)
    addrs = [(a["ip-address"], a["prefix"]) for a in eth0[0].get("ip-addresses", [])]
    expect(("10.99.0.2", 24) in addrs, addrs)
    rc, route = g.qga_exec("ip", "route", "show", "default")
    expect("default via 10.99.0.1 dev eth0" in route, route)
    print(f"# ISO: powerdown to exit {g.powerdown():.2f} s", flush=True)


@case
def disk_with_configdrive2(work):
    g = guest(work, "disk")
    expect(g.ready() == "on", f"qga is not on: {g.serial_text()[-1500:]}")
    print(f"# qcow2: GUEST-READY after {g.ready_after:.2f} s", flush=True)
    expect(cloudinit_line(g) == ("cd102", "bob", "10.98.0.2/24"), cloudinit_line(g))
    h = check_agent_user(g, "cd102", "bob", "/home/bob", KEYS[:1])
    m = re.match(r"^\$6\$([^$]+)\$", h)
    expect(m, f"bob's password is not stored as a SHA-512 hash: {h!r}")
    r = subprocess.run(["openssl", "passwd", "-6", "-salt", m.group(1), "bob-pw"],
                       capture_output=True, text=True)
    expect(r.stdout.strip() == h, f"the stored hash is not of bob's password: {h} vs {r.stdout}")
    hosts = g.qga_read("/etc/hosts")
    expect("cd102.example.net cd102" in hosts, hosts)
    print(f"# qcow2: powerdown to exit {g.powerdown():.2f} s", flush=True)


@case
def pvh_kernel_without_drive(work):
    """No cloud-init drive leaves the guest as built: no GUEST-CLOUDINIT line, hostname testguest;
    the agent's guest-shutdown powers it off (its "shutdown -P" is the guest's /sbin/shutdown)."""
    g = guest(work, "pvh")
    expect(g.ready() == "on", f"qga is not on: {g.serial_text()[-1500:]}")
    print(f"# PVH: GUEST-READY after {g.ready_after:.2f} s", flush=True)
    expect("GUEST-CLOUDINIT" not in g.serial_text(), g.serial_text()[-500:])
    rc, out = g.qga_exec("hostname")
    expect(out.strip() == "testguest", out)
    print(f"# PVH: guest-shutdown to exit {g.powerdown(agent=True):.2f} s", flush=True)


def main():
    if os.geteuid() != 0:
        print("skip guest-image: needs root")
        return 0
    if not QEMU:
        print("skip guest-image: no qemu-system-x86_64 (package qemu-system-x86)")
        return 0
    # A test runner's SIGTERM unwinds too, so every QEMU goes and the files with it.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(1))
    work = tempfile.mkdtemp(prefix="pved-guest-")
    try:
        return run(work)
    finally:
        for g in state.get("guests", {}).values():
            if isinstance(g, Guest):
                g.__exit__(None, None, None)
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
