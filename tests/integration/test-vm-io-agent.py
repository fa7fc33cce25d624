"""The guest agent's endpoints on a real pved with the test guest (booted directly from its kernel, PVH)
and its qemu-ga: the index, ping, get-host-name, network-get-interfaces, exec and exec-status,
file-write then file-read (and a file that is not there), set-user-password (the guest's /etc/shadow read
back through the agent), and a shutdown of a VM with `agent: 1`, which goes through the agent as
Proxmox's does. Refusals: a VM without `agent` ("No QEMU guest agent configured"), a stopped VM, a running
VM whose agent does not answer (Proxmox's "QEMU guest agent is not running", after the sync's timeout),
exec without a command. Runs as root; every QEMU is stopped by PID at the end."""

import os
import subprocess
import sys
import time
import urllib.parse

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from pvetest import BIN, Skip, case, expect  # noqa: E402
import vmlib  # noqa: E402
from vmlib import Serial, task, wait_status  # noqa: E402

state = {}
VMID = 500
CHPASSWD = r"""#!/bin/sh
IFS= read -r line
u=${line%%:*}
p=${line#*:}
if [ "$1" != -e ]; then
	p=$(mkpasswd -m sha512 "$p" 2>/dev/null || mkpasswd -m md5 "$p") || exit 1
fi
awk -F: -v u="$u" -v p="$p" 'BEGIN { OFS = ":" } $1 == u { $2 = p; f = 1 } { print }
	END { exit !f }' /etc/shadow >/etc/shadow.new && mv /etc/shadow.new /etc/shadow
"""


def pvectl(n, *args):
    r = subprocess.run([os.path.join(BIN, "pvectl"), "--root", n.root, *args],
                       capture_output=True, text=True)
    expect(r.returncode == 0, f"pvectl {args}: {r.stdout} {r.stderr}")
    return r.stdout


def agent(n, cmd, params=None, method=None, vmid=VMID):
    path = f"/nodes/{n.name}/qemu/{vmid}/agent/{cmd}"
    method = method or ("POST" if cmd in ("ping", "exec", "file-write", "set-user-password",
                                          "shutdown") else "GET")
    if method == "POST" and params:
        # a list is a repeated field (exec's command)
        return n.request(method, path, body=urllib.parse.urlencode(params, doseq=True),
                         headers={"Content-Type": "application/x-www-form-urlencoded"})
    return n.request(method, path, params)


def ok(r):
    expect(r.status == 200, r)
    return r.data


def failed(r, words, status=500):
    expect(r.status == status and words in (r.json or {}).get("message", "") + r.reason,
           f"expected {status} '{words}': {r}")


def need_guest():
    if "pid" not in state:
        raise Skip(state.get("why", "the guest did not start"))


@case
def start_guest(n):
    try:
        g = vmlib.guest_image()
    except Skip as e:
        state["why"] = str(e)
        raise
    with open(os.path.join(g, "cmdline")) as f:
        cmdline = f.read().strip()
    args = f"-kernel {g}/vmlinux -initrd {g}/initrd.gz -append '{cmdline}'"
    # args is root's: set through the node's local socket, where the caller is root@pam
    pvectl(n, "create", f"/nodes/{n.name}/qemu", "--vmid", str(VMID), "--name", "agentguest",
           "--memory", "192", "--serial0", "socket", "--agent", "1", f"--args={args}")
    task(n, n.post(f"/nodes/{n.name}/qemu/{VMID}/status/start"))
    serial = Serial(n.root, VMID)
    try:
        t0 = time.time()
        serial.wait(r"GUEST-READY qga=on")
        print(f"# GUEST-READY {time.time() - t0:.1f} s after the start task", flush=True)
    finally:
        serial.close()
    state["pid"] = wait_status(n, VMID, "running")["pid"]


@case
def index_and_ping(n):
    need_guest()
    names = {e["name"] for e in ok(n.get(f"/nodes/{n.name}/qemu/{VMID}/agent"))}
    expect({"ping", "exec", "file-read", "get-host-name", "set-user-password"} <= names, names)
    expect(ok(agent(n, "ping")) == {"result": {}}, "ping")
    # the generic POST .../agent with the command as a parameter
    r = n.post(f"/nodes/{n.name}/qemu/{VMID}/agent", {"command": "get-host-name"})
    expect("host-name" in ok(r)["result"], r)
    r = n.post(f"/nodes/{n.name}/qemu/{VMID}/agent", {"command": "guest-exec"})
    expect(r.status == 400 and "command" in (r.json or {}).get("errors", {}), r)


@case
def host_name_and_interfaces(n):
    need_guest()
    res = ok(agent(n, "get-host-name"))["result"]
    expect(isinstance(res.get("host-name"), str) and res["host-name"], res)
    ifs = ok(agent(n, "network-get-interfaces"))["result"]
    lo = [i for i in ifs if i.get("name") == "lo"]
    expect(lo and any(a.get("ip-address") == "127.0.0.1" for a in lo[0].get("ip-addresses", [])),
           ifs)


def exec_wait(n, pid, timeout=30):
    deadline = time.time() + timeout
    while time.time() < deadline:
        st = ok(agent(n, "exec-status", {"pid": pid}))
        if st.get("exited"):
            return st
        time.sleep(0.2)
    raise AssertionError(f"exec {pid} did not end in {timeout} s")


@case
def exec_and_status(n):
    need_guest()
    # several values of a repeated field: the program and its arguments
    body = urllib.parse.urlencode([("command", "sh"), ("command", "-c"),
                                   ("command", "echo out-$((6*7)); echo err >&2; exit 3")])
    r = n.request("POST", f"/nodes/{n.name}/qemu/{VMID}/agent/exec", body=body,
                  headers={"Content-Type": "application/x-www-form-urlencoded"})
    pid = ok(r)["pid"]
    st = exec_wait(n, pid)
    expect(st["exited"] == 1 and st["exitcode"] == 3, st)
    expect(st["out-data"] == "out-42\n" and st["err-data"] == "err\n", st)
    # input-data alone runs nothing: Proxmox's agent needs a path; with cat it is the input
    pid = ok(agent(n, "exec", {"command": "cat", "input-data": "to stdin"}))["pid"]
    st = exec_wait(n, pid)
    expect(st["exitcode"] == 0 and st["out-data"] == "to stdin", st)
    r = agent(n, "exec", {})
    expect(r.status == 400 and "command" in (r.json or {}).get("errors", {}), r)
    # a pid that is none of the agent's
    r = agent(n, "exec-status", {"pid": 999999})
    failed(r, "Agent error")


@case
def file_write_and_read(n):
    need_guest()
    text = "line one\nsecond line, with ümlauts\n"
    ok(agent(n, "file-write", {"file": "/tmp/pved-test", "content": text}))
    got = ok(agent(n, "file-read", {"file": "/tmp/pved-test"}))
    expect(got["content"] == text and got["bytes-read"] == len(text.encode()), got)
    expect("truncated" not in got, got)
    # encode=0: the content is base64 already
    ok(agent(n, "file-write", {"file": "/tmp/pved-test2", "content": "aGVsbG8=", "encode": 0}))
    got = ok(agent(n, "file-read", {"file": "/tmp/pved-test2"}))
    expect(got["content"] == "hello", got)
    # count and offset: a part of the file, marked truncated
    got = ok(agent(n, "file-read", {"file": "/tmp/pved-test", "offset": 5, "count": 3}))
    expect(got["content"] == "one" and got["bytes-read"] == 3 and got.get("truncated") == 1, got)
    # decode=0: the file's bytes in base64
    got = ok(agent(n, "file-read", {"file": "/tmp/pved-test2", "decode": 0}))
    expect(got["content"] == "aGVsbG8=", got)
    failed(agent(n, "file-read", {"file": "/nonexistent/file"}), "Agent error")


@case
def set_user_password(n):
    need_guest()
    # qemu-ga runs chpasswd, which the test guest's busybox lacks: a small one, put in place
    # through the agent ("user:password" on stdin, -e when it is hashed already)
    ok(agent(n, "file-write", {"file": "/sbin/chpasswd", "content": CHPASSWD}))
    pid = ok(agent(n, "exec", {"command": ["chmod", "755", "/sbin/chpasswd"]}))["pid"]
    expect(exec_wait(n, pid)["exitcode"] == 0, "chmod")
    before = ok(agent(n, "file-read", {"file": "/etc/shadow"}))["content"]
    r = agent(n, "set-user-password", {"username": "root", "password": "s3cret-pw"})
    expect(ok(r) == {"result": {}}, r)
    after = ok(agent(n, "file-read", {"file": "/etc/shadow"}))["content"]
    root = [line for line in after.splitlines() if line.startswith("root:")]
    expect(root and root[0].split(":")[1].startswith("$") and after != before,
           f"root's shadow entry: {root} (before: {before!r})")
    # crypted=1: the hash as given
    ok(agent(n, "set-user-password", {"username": "root", "password": "$1$salt$hash0", "crypted": 1}))
    after = ok(agent(n, "file-read", {"file": "/etc/shadow"}))["content"]
    expect("root:$1$salt$hash0:" in after, after)
    # the password's minimum length is Proxmox's 5
    r = agent(n, "set-user-password", {"username": "root", "password": "abc"})
    expect(r.status == 400 and "password" in (r.json or {}).get("errors", {}), r)


@case
def refusals(n):
    # a VM without `agent`, and one with it whose guest runs no agent (no guest at all here)
    task(n, n.post(f"/nodes/{n.name}/qemu", {"vmid": 501, "memory": 64, "vga": "none"}))
    failed(agent(n, "ping", vmid=501), "No QEMU guest agent configured")
    task(n, n.post(f"/nodes/{n.name}/qemu", {"vmid": 502, "memory": 64, "vga": "none",
                                             "agent": 1}))
    failed(agent(n, "ping", vmid=502), "VM 502 is not running")
    task(n, n.post(f"/nodes/{n.name}/qemu/502/status/start"))
    t0 = time.time()
    failed(agent(n, "get-host-name", vmid=502), "QEMU guest agent is not running")
    took = time.time() - t0
    expect(took < 10, f"the answer took {took:.1f} s")
    # a shutdown falls back to ACPI, as Proxmox's (which this guestless VM ignores)
    r = n.post(f"/nodes/{n.name}/qemu/502/status/shutdown", {"timeout": 3})
    task(n, r, ok=False)
    log = vmlib.task_log(n, r.data)
    expect("QEMU guest agent is not running: shutdown through ACPI" in log, log)
    task(n, n.post(f"/nodes/{n.name}/qemu/502/status/stop"))


@case
def shutdown_through_the_agent(n):
    need_guest()
    r = n.post(f"/nodes/{n.name}/qemu/{VMID}/status/shutdown", {"timeout": 60})
    task(n, r)
    log = vmlib.task_log(n, r.data)
    expect("guest agent" in log, log)
    expect(vmlib.wait_gone(state["pid"], 10), "QEMU still runs")


if __name__ == "__main__":
    sys.exit(vmlib.vm_main("integration-vm-io-agent"))
