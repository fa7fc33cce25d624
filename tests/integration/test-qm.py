# timeout: 300
"""qm's verbs beyond the lifecycle against a real node, through a `qm` name linked to pvectl (as
make install links it), on VMs created through the API: snapshot, listsnapshot (qm's tree, "current"
under the newest snapshot), rollback, delsnapshot, disk resize and its alias resize, move-disk to
another storage and disk move back, clone, template, unlink, cloudinit dump|pending|update, sendkey
refused on a stopped VM; qm's verbs pved does not serve (vncproxy) said so; bad words refused as
usage mistakes (exit 2) before any call, the API's refusals passed on (exit 1). One guest boot (the
test guest with its agent): guest cmd ping and get-osinfo (qm's JSON), guest exec with its exit code
and output, monitor reading HMP commands from a pipe, and terminal: a command typed into the guest's
serial shell, its answer read, the escape character (Ctrl+O) ending it. Runs as root; every QEMU is
stopped by PID at the end."""

import json
import os
import re
import select
import shutil
import signal
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from pvetest import BIN, Node, case, expect, run  # noqa: E402
import vmlib  # noqa: E402
from vmlib import task  # noqa: E402

state = {}


def qm(n, *args, stdin=None, timeout=120):
    """qm on the node's local socket: (exit status, stdout, stderr)."""
    e = dict(os.environ, PVED_ROOT=n.root, COLUMNS="200", LC_ALL="C.UTF-8", TZ="UTC")
    p = subprocess.run([state["qm"], *args], capture_output=True, text=True, env=e,
                       timeout=timeout, input=stdin if stdin is not None else "")
    return p.returncode, p.stdout, p.stderr


def ok(n, *args, **kw):
    rc, out, err = qm(n, *args, **kw)
    expect(rc == 0, f"qm {' '.join(args)}: {rc} {out[-1500:]!r} {err[-1500:]!r}")
    return out


def config(n, vmid):
    r = n.get(f"/nodes/{n.name}/qemu/{vmid}/config")
    expect(r.status == 200, r)
    return r.data


def images(n, storage_dir, vmid):
    d = n.path(f"{storage_dir}/images/{vmid}")
    return sorted(os.listdir(d)) if os.path.isdir(d) else []


@case
def snapshots(n):
    task(n, n.post(f"/nodes/{n.name}/qemu", {"vmid": 300, "name": "qmtest", "memory": 64,
                                             "scsi0": "local:1,format=qcow2"}))
    ok(n, "snapshot", "300", "first", "--description", "one\ntwo")
    time.sleep(1.1)  # the tree is sorted by snaptime, in seconds
    ok(n, "snapshot", "300", "second")
    out = ok(n, "listsnapshot", "300")
    lines = out.splitlines()
    expect(len(lines) == 3, out)
    expect(re.match(r"^`-> first +\d{4}-\d\d-\d\d \d\d:\d\d:\d\d +one$", lines[0]), out)
    expect(re.match(r"^ `-> second +\d{4}-\d\d-\d\d \d\d:\d\d:\d\d +no-description$", lines[1]),
           out)
    expect(re.match(r"^  `-> current +You are here!$", lines[2]), out)
    # the descriptions line up at column 30 + 1, as qm's printf does
    expect(lines[0].index("first") == 4 and len(lines[0].split("  ")[0]) <= 34, out)
    ok(n, "rollback", "300", "first")
    expect(config(n, 300).get("parent") == "first", config(n, 300))
    ok(n, "delsnapshot", "300", "second")
    ok(n, "delsnapshot", "300", "first")
    snaps = [s["name"] for s in n.get(f"/nodes/{n.name}/qemu/300/snapshot").data]
    expect(snaps == ["current"], snaps)
    # refusals: the API's (exit 1, its message), and words that are no name (exit 2, no call)
    rc, out, err = qm(n, "rollback", "300", "nosuch")
    expect(rc == 1 and "nosuch" in err, (rc, out, err))
    rc, out, err = qm(n, "snapshot", "300")
    expect(rc != 0 and "snapname" in err, (rc, out, err))
    rc, out, err = qm(n, "delsnapshot", "300", "../config")
    expect(rc == 2 and "no snapname" in err, (rc, out, err))
    rc, out, err = qm(n, "listsnapshot", "999")
    expect(rc == 1 and "does not exist" in err, (rc, out, err))


@case
def disks(n):
    if not os.path.isdir(n.path("srv/second")):
        os.makedirs(n.path("srv/second"))
        r = n.post("/storage", {"storage": "second", "type": "dir", "path": n.path("srv/second"),
                                "content": "images"})
        expect(r.status == 200, r)
    ok(n, "disk", "resize", "300", "scsi0", "+1G")
    expect("size=2G" in config(n, 300)["scsi0"], config(n, 300))
    ok(n, "resize", "300", "scsi0", "3G")
    expect("size=3G" in config(n, 300)["scsi0"], config(n, 300))
    rc, out, err = qm(n, "resize", "300", "scsi0", "1G")
    expect(rc == 1, (rc, out, err))
    ok(n, "move-disk", "300", "scsi0", "second", "--delete", "1")
    expect(config(n, 300)["scsi0"].startswith("second:300/"), config(n, 300))
    expect(images(n, "var/lib/vz", 300) == [], images(n, "var/lib/vz", 300))
    ok(n, "disk", "move", "300", "scsi0", "local", "--delete")
    expect(config(n, 300)["scsi0"].startswith("local:300/"), config(n, 300))
    # an unused disk, unlinked (its volume removed)
    ok(n, "set", "300", "--scsi1", "local:1,format=raw")
    ok(n, "set", "300", "--delete", "scsi1")
    expect("unused0" in config(n, 300), config(n, 300))
    ok(n, "unlink", "300", "--idlist", "unused0", "--force", "1")
    expect("unused0" not in config(n, 300) and images(n, "var/lib/vz", 300) ==
           ["vm-300-disk-0.qcow2"], (config(n, 300), images(n, "var/lib/vz", 300)))


@case
def clone_and_template(n):
    ok(n, "clone", "300", "301", "--name", "qmclone", "--full", "1")
    c = config(n, 301)
    expect(c.get("name") == "qmclone" and c["scsi0"].startswith("local:301/"), c)
    ok(n, "template", "301")
    expect(str(config(n, 301).get("template")) == "1", config(n, 301))
    task(n, n.request("DELETE", f"/nodes/{n.name}/qemu/301", {"purge": 1}))


@case
def cloudinit_and_sendkey(n):
    ok(n, "set", "300", "--ide2", "local:cloudinit", "--ciuser", "alice",
       "--ipconfig0", "ip=dhcp")
    out = ok(n, "cloudinit", "dump", "300", "user")
    expect(out.startswith("#cloud-config") and "alice" in out, out)
    out = ok(n, "cloudinit", "dump", "300", "network")
    expect(out.startswith("version: 1\n"), out)  # no NIC: no ipconfig0 in it
    ok(n, "cloudinit", "update", "300")
    ok(n, "cloudinit", "pending", "300")
    rc, out, err = qm(n, "cloudinit", "dump", "300", "nosuch")
    expect(rc == 1 and "type" in err, (rc, out, err))
    rc, out, err = qm(n, "sendkey", "300", "ret")
    expect(rc == 1 and "not running" in err, (rc, out, err))
    rc, out, err = qm(n, "disk", "frobnicate", "300")
    expect(rc == 2 and "unknown command" in err, (rc, out, err))
    rc, out, err = qm(n, "vncproxy", "300")
    expect(rc == 1 and "not served" in err, (rc, out, err))
    rc, out, err = qm(n, "terminal", "300")
    expect(rc == 1 and "unable to find a serial interface" in err, (rc, out, err))


@case
def guest_agent_and_monitor(n):
    g = vmlib.guest_image()
    with open(os.path.join(g, "cmdline")) as f:
        cmdline = f.read().strip()
    task(n, n.post(f"/nodes/{n.name}/qemu", {"vmid": 302, "name": "qmguest", "memory": 192,
                                             "serial0": "socket", "agent": "1"}))
    r = subprocess.run([os.path.join(BIN, "pvectl"), "--root", n.root, "set",
                        f"/nodes/{n.name}/qemu/302/config",
                        f"--args=-kernel {g}/vmlinux -initrd {g}/initrd.gz -append '{cmdline}'"],
                       capture_output=True, text=True)
    expect(r.returncode == 0, f"pvectl set args: {r.stdout} {r.stderr}")
    ok(n, "start", "302")
    deadline = time.time() + vmlib.READY_LIMIT
    while qm(n, "guest", "cmd", "302", "ping")[0] != 0:
        expect(time.time() < deadline, "the agent did not answer")
        time.sleep(0.5)
    out = ok(n, "guest", "cmd", "302", "ping")
    expect(out == "", repr(out))
    out = ok(n, "guest", "cmd", "302", "get-osinfo")
    expect(out.startswith("{\n   \"") and isinstance(json.loads(out), dict), out)
    out = ok(n, "guest", "exec", "302", "--", "/bin/sh", "-c", "echo hello; exit 3")
    res = json.loads(out)
    expect(res.get("exited") in (1, True) and res.get("exitcode") == 3
           and res.get("out-data") == "hello\n", res)
    out = ok(n, "guest", "exec", "302", "--pass-stdin", "1", "--", "/bin/cat",
             stdin="from stdin\n")
    expect(json.loads(out).get("out-data") == "from stdin\n", out)
    out = ok(n, "monitor", "302", stdin="info status\n\nquit\ninfo status\n")
    expect(out.startswith("Entering QEMU Monitor for VM 302 - type 'help' for help\n"), out)
    expect(out.count("VM status: running") == 1, out)
    terminal(n)
    ok(n, "stop", "302")


def terminal(n):
    e = dict(os.environ, PVED_ROOT=n.root, LC_ALL="C.UTF-8")
    p = subprocess.Popen([state["qm"], "terminal", "302"], stdin=subprocess.PIPE,
                         stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=e)
    try:
        out = b""
        deadline = time.time() + 30
        sent = 0
        os.set_blocking(p.stdout.fileno(), False)
        while b"TERM-42" not in out and time.time() < deadline and p.poll() is None:
            if time.time() > sent + 3:  # again, in case the shell ate the first one
                p.stdin.write(b"echo TERM-$((6*7))\n")
                p.stdin.flush()
                sent = time.time()
            r, _, _ = select.select([p.stdout], [], [], 0.2)
            if r:
                out += p.stdout.read() or b""
        expect(out.startswith(b"starting serial terminal on interface serial0 "
                              b"(press Ctrl+O to exit)\n"),
               (out[:200], p.poll(), p.stderr.read() if p.poll() is not None else ""))
        expect(b"TERM-42" in out, out[-500:])
        p.stdin.write(b"\x0f")
        p.stdin.flush()
        expect(p.wait(10) == 0, p.stderr.read())
    finally:
        if p.poll() is None:
            p.kill()
            p.wait()


def main():
    if os.geteuid() != 0:
        print("skip integration-qm: needs root")
        return 0
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(1))
    d = tempfile.mkdtemp(prefix="pved-qm-")
    try:
        state["qm"] = os.path.join(d, "qm")
        os.symlink(os.path.abspath(os.path.join(BIN, "pvectl")), state["qm"])
        with Node() as n:
            try:
                n.login()
                return run(n)
            finally:
                vmlib.kill_vms(n.root)
    finally:
        shutil.rmtree(d, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
