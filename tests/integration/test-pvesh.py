"""pvesh habits against a real node, through the names `make install` puts beside pvectl (pvesh, qm,
pct): following a task (its whole log, in order, ending with its status line, however the worker and
the client's first read fall), pvesh's output options compared with what Proxmox's pvesh prints for the
same data (CLIFormatter's rules), and qm's verbs on a VM created through the API."""

import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from pvetest import BIN, TOP, Node, Skip, case, children_of, expect, run  # noqa: E402

state = {}


def installed(name):
    """The path of name as `make install` installed it into a staging directory."""
    if "dest" not in state:
        raise Skip(state.get("why", "make install did not run"))
    return os.path.join(state["dest"], "usr/local/bin", name)


def sh(n, name, *args, env=None, timeout=60):
    """Runs an installed name on the node's local socket; (exit status, stdout, stderr)."""
    e = dict(os.environ, PVED_ROOT=n.root, COLUMNS="200", LC_ALL="C.UTF-8")
    e.update(env or {})
    p = subprocess.run([installed(name), *args], capture_output=True, text=True, env=e,
                       timeout=timeout, stdin=subprocess.DEVNULL)
    return p.returncode, p.stdout, p.stderr


def make_install(dest, *more):
    """make install of the build PVED_BIN names (the sanitizer build's with its flags) into dest."""
    out = os.path.relpath(os.path.dirname(os.path.abspath(BIN)), os.path.abspath(TOP))
    flags = [f"O={out}"] + (["SANITIZE=address,undefined"] if out.endswith("/san") else [])
    return subprocess.run(["make", "-s", "install", f"DESTDIR={dest}", *flags, *more], cwd=TOP,
                          capture_output=True, text=True)


@case
def make_install_names(n):
    dest = tempfile.mkdtemp(prefix="pved-pvesh-")
    state["cleanup"] = dest
    p = make_install(dest)
    if p.returncode != 0:
        state["why"] = "make install failed"
        raise AssertionError(f"make install: {p.stderr[-500:]}")
    state["dest"] = dest
    for name in ("bin/pvesh", "bin/qm", "bin/pct", "share/bash-completion/completions/pvesh"):
        path = os.path.join(dest, "usr/local", name)
        expect(os.path.islink(path) and os.readlink(path) == "pvectl",
               f"{name}: {os.readlink(path) if os.path.islink(path) else 'not a link'}")
    # bash completes pvesh as pvectl, through the installed name
    script = os.path.join(dest, "usr/local/share/bash-completion/completions/pvesh")
    p = subprocess.run(["bash", "-c", 'source "$1"; complete -p pvesh', "_", script],
                       capture_output=True, text=True)
    expect(p.returncode == 0 and "_pvectl" in p.stdout, f"complete -p pvesh: {p.stdout!r}")
    # and not with NO_COMPAT_NAMES=1
    bare = tempfile.mkdtemp(prefix="pved-pvesh-bare-")
    try:
        p = make_install(bare, "NO_COMPAT_NAMES=1")
        expect(p.returncode == 0, p.stderr[-500:])
        for name in ("pvesh", "qm", "pct"):
            expect(not os.path.lexists(os.path.join(bare, "usr/local/bin", name)),
                   f"{name} installed with NO_COMPAT_NAMES=1")
        expect(os.path.exists(os.path.join(bare, "usr/local/bin/pvectl")), "no pvectl")
    finally:
        shutil.rmtree(bare, ignore_errors=True)


def warm_worker(n):
    """The task worker pved spawned ahead (the next task runs in it), by its PID."""
    deadline = time.time() + 5
    while time.time() < deadline:
        for pid in children_of(n.proc.pid):
            try:
                with open(f"/proc/{pid}/cmdline", "rb") as f:
                    if b"--task-worker" in f.read():
                        return pid
            except OSError:
                pass
        time.sleep(0.05)
    raise Skip("pved has no task worker spawned ahead")


@case
def task_first_line_after_empty_log(n):
    # The worker is held before it writes anything, so pvesh's first reads find the log empty (which
    # Proxmox's log call answers with the line {"n": 1, "t": "no content"}); then it goes on.
    pid = warm_worker(n)
    os.kill(pid, signal.SIGSTOP)
    try:
        p = subprocess.Popen([installed("pvesh"), "create", f"/nodes/{n.name}/startall"],
                             stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                             env=dict(os.environ, PVED_ROOT=n.root), stdin=subprocess.DEVNULL)
        time.sleep(1.0)  # several polls of log and status
    finally:
        os.kill(pid, signal.SIGCONT)
    out, err = p.communicate(timeout=30)
    expect(p.returncode == 0, f"exit {p.returncode}: {err}")
    expect(out == "no guests to start\nTASK OK\n", repr(out))


@case
def task_startall_ten_times(n):
    # five at once, twice: the client's reads land anywhere in the worker's run
    outs = []
    for _ in range(2):
        procs = [subprocess.Popen([installed("pvesh"), "create", f"/nodes/{n.name}/startall"],
                                  stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                                  env=dict(os.environ, PVED_ROOT=n.root),
                                  stdin=subprocess.DEVNULL) for _ in range(5)]
        for p in procs:
            out, err = p.communicate(timeout=60)
            outs.append((p.returncode, out, err))
    bad = [o for o in outs if o[0] != 0 or o[1] != "no guests to start\nTASK OK\n"]
    expect(not bad, f"{len(bad)} of 10: {bad[:2]!r}")


@case
def task_error_ends_with_status(n):
    # a task that fails: its log ends with "TASK ERROR: ...", the exit status is 1
    src = n.path("src.iso")
    with open(src, "wb") as f:
        f.write(b"not what the checksum says\n")
    rc, out, err = sh(n, "pvesh", "create", f"/nodes/{n.name}/storage/local/download-url",
                      "--url", f"file://{src}", "--content", "iso", "--filename", "x.iso",
                      "--checksum", "0" * 64, "--checksum-algorithm", "sha256")
    if rc == 2 or (rc == 1 and "TASK" not in out):
        raise Skip(f"download-url did not start a task here: {err.strip()[:200]}")
    lines = out.splitlines()
    expect(rc == 1 and lines and lines[-1].startswith("TASK ERROR: "), f"{rc} {out!r} {err!r}")


# ---- pvesh's output options, on data whose every value the test knows: two groups ----

def groups(n):
    if not state.get("groups"):
        for gid, comment in (("ops", "on call"), ("dev", None)):
            args = ["create", "/access/groups", "--groupid", gid]
            if comment:
                args += ["--comment", comment]
            rc, out, err = sh(n, "pvesh", *args)
            expect(rc == 0 and out == "", f"{args}: {rc} {out!r} {err!r}")
        state["groups"] = True


def pvesh_out(n, *args, env=None):
    rc, out, err = sh(n, "pvesh", *args, env=env)
    expect(rc == 0, f"pvesh {' '.join(args)}: exit {rc}: {err}")
    return out


# CLIFormatter: columns required then optional, each sorted (groupid; comment, users); rows sorted
# by the first column; a rule between rows; the header rule doubled.
@case
def output_text_utf8(n):
    groups(n)
    expect(pvesh_out(n, "get", "/access/groups") == (
        "┌─────────┬─────────┬───────┐\n"
        "│ groupid │ comment │ users │\n"
        "╞═════════╪═════════╪═══════╡\n"
        "│ dev     │         │       │\n"
        "├─────────┼─────────┼───────┤\n"
        "│ ops     │ on call │       │\n"
        "└─────────┴─────────┴───────┘\n"), "table")


@case
def output_text_ascii(n):
    groups(n)
    out = pvesh_out(n, "get", "/access/groups", env={"LC_ALL": "C"})
    expect(out == (
        "+---------+---------+-------+\n"
        "| groupid | comment | users |\n"
        "+=========+=========+=======+\n"
        "| dev     |         |       |\n"
        "+---------+---------+-------+\n"
        "| ops     | on call |       |\n"
        "+---------+---------+-------+\n"), repr(out))


@case
def output_noborder_noheader(n):
    groups(n)
    out = pvesh_out(n, "get", "/access/groups", "--noborder")
    expect(out == ("groupid comment users\n"
                   "dev             \n"
                   "ops     on call \n"), repr(out))
    out = pvesh_out(n, "get", "/access/groups", "--noborder", "--noheader")
    expect(out == "dev             \nops     on call \n", repr(out))
    out = pvesh_out(n, "get", "/access/groups", "--noheader", "1")
    expect(out == ("┌─────────┬─────────┬───────┐\n"
                   "│ dev     │         │       │\n"
                   "├─────────┼─────────┼───────┤\n"
                   "│ ops     │ on call │       │\n"
                   "└─────────┴─────────┴───────┘\n"), repr(out))


@case
def output_json_forms(n):
    groups(n)
    out = pvesh_out(n, "get", "/access/groups", "--output-format", "json")
    expect(out == '[{"groupid":"dev","users":""},{"comment":"on call","groupid":"ops","users":""}]\n',
           repr(out))
    out = pvesh_out(n, "get", "/access/groups", "--output-format=json-pretty")
    expect(out == ('[\n   {\n      "groupid" : "dev",\n      "users" : ""\n   },\n'
                   '   {\n      "comment" : "on call",\n      "groupid" : "ops",\n'
                   '      "users" : ""\n   }\n]\n'), repr(out))


@case
def output_yaml(n):
    groups(n)
    out = pvesh_out(n, "get", "/access/groups", "--output-format", "yaml")
    expect(out == ("---\n- groupid: dev\n  users: ''\n"
                   "- comment: on call\n  groupid: ops\n  users: ''\n"), repr(out))


@case
def output_quiet(n):
    groups(n)
    expect(pvesh_out(n, "get", "/access/groups", "--quiet") == "", "quiet printed")
    # and a call's answer too: a set prints nothing either way
    expect(pvesh_out(n, "set", "/access/groups/dev", "--comment", "builds", "--quiet") == "", "")


@case
def output_option_not_boolean(n):
    # refused before any call; the parameters around it are freed once each (a double free before)
    rc, out, err = sh(n, "pvesh", "get", "/version", "--a", "1", "--noborder", "1", "--b", "2",
                      "--quiet=maybe", "--c", "3")
    expect(rc == 2 and "--quiet: 'maybe' is not a boolean" in err and "Sanitizer" not in err,
           f"{rc} {err!r}")


@case
def output_ls_sorted(n):
    out = pvesh_out(n, "ls", f"/nodes/{n.name}")
    lines = out.splitlines()
    names = [line[13:] for line in lines]
    expect(names == sorted(names) and "qemu" in names and "tasks" in names, repr(out))
    expect(all(len(line) > 13 and line[12] == " " and len(line[:12].rstrip()) == 5
               for line in lines), repr(out))
    out = pvesh_out(n, "ls", f"/nodes/{n.name}", "--noheader", "0")
    expect(out.splitlines()[0].startswith("capabilities name"), repr(out))


def on_terminal(n, cols, *args):
    """Runs pvesh with stdout on a terminal of cols columns; its output."""
    import fcntl
    import pty
    import struct
    import termios
    master, slave = pty.openpty()
    fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", 24, cols, 0, 0))
    attrs = termios.tcgetattr(slave)
    attrs[1] &= ~termios.ONLCR  # the lines as pvesh writes them
    termios.tcsetattr(slave, termios.TCSANOW, attrs)
    env = dict(os.environ, PVED_ROOT=n.root, LC_ALL="C.UTF-8")
    env.pop("COLUMNS", None)
    p = subprocess.Popen([installed("pvesh"), *args], stdout=slave, stderr=subprocess.PIPE,
                         stdin=subprocess.DEVNULL, env=env)
    os.close(slave)
    data = b""
    while True:
        try:
            chunk = os.read(master, 65536)
        except OSError:
            break
        if not chunk:
            break
        data += chunk
    os.close(master)
    p.wait(30)
    return data.decode()


@case
def output_terminal_width(n):
    groups(n)
    full = pvesh_out(n, "get", "/access/groups")
    cut = on_terminal(n, 15, "get", "/access/groups")
    expect(cut == "".join(line[:15] + "\n" for line in full.splitlines()), repr(cut))


# ---- --human-readable: the returns schema's renderers, on a VM whose figures are known ----

def vm(n):
    if not state.get("vm"):
        rc, out, err = sh(n, "qm", "create", "100", "--memory", "512", "--name", "web",
                          "--cores", "2")
        expect(rc == 0 and "TASK" not in out, f"qm create: {rc} {out!r} {err!r}")
        state["vm"] = True


@case
def output_human_readable(n):
    vm(n)
    path = f"/nodes/{n.name}/qemu/100/status/current"
    out = pvesh_out(n, "get", path, "--noborder")
    lines = out.splitlines()
    expect(lines[0].rstrip() == "key       value", repr(out))
    for want in ("maxmem    512.00 MiB", "uptime    0s", "name      web", "status    stopped",
                 "diskread  0.00 B", 'ha        {"managed":0}'):
        expect(want in lines, f"{want!r} not in {out!r}")
    out = pvesh_out(n, "get", path, "--noborder", "--human-readable", "0")
    expect("maxmem    536870912" in out.splitlines() and "uptime    0" in out.splitlines(),
           repr(out))


# ---- qm on a VM created through the API; no boot needed ----

@case
def qm_verbs(n):
    vm(n)
    rc, out, err = sh(n, "qm", "set", "100", "--description", "two\nlines: here", "--cores", "1")
    expect(rc == 0 and out == "", f"set: {rc} {out!r} {err!r}")
    rc, out, err = sh(n, "qm", "config", "100")
    lines = out.splitlines()
    expect(rc == 0 and "cores: 1" in lines and "memory: 512" in lines and "name: web" in lines
           and "description: two%0Alines%3A here" in lines
           and not any(x.startswith("digest:") for x in lines)
           and lines == sorted(lines), f"config: {rc} {out!r} {err!r}")
    rc, out, err = sh(n, "qm", "status", "100")
    expect(rc == 0 and out == "status: stopped\n", f"status: {rc} {out!r} {err!r}")
    rc, out, err = sh(n, "qm", "list")
    expect(rc == 0 and out.splitlines()[0] ==
           "      VMID NAME                 STATUS     MEM(MB)    BOOTDISK(GB) PID       "
           and "       100 web                  stopped    512                0.00 0         "
           in out.splitlines(), f"list: {rc} {out!r}")
    rc, out, err = sh(n, "qm", "pending", "100")
    expect(rc == 0 and "cur memory: 512" in out.splitlines(), f"pending: {rc} {out!r} {err!r}")
    rc, out, err = sh(n, "qm", "showcmd", "100")
    expect(rc == 0 and out.startswith("/usr/bin/qemu-system-x86_64 ") and "-name web" in out,
           f"showcmd: {rc} {out[:200]!r} {err!r}")
    # the API's errors, as the API gives them
    rc, out, err = sh(n, "qm", "set", "100", "--memory", "lots")
    expect(rc == 1 and "memory" in err, f"bad set: {rc} {err!r}")
    rc, out, err = sh(n, "qm", "config", "999")
    expect(rc == 1 and "does not exist" in err, f"no VM: {rc} {err!r}")
    rc, out, err = sh(n, "qm", "frobnicate", "100")
    expect(rc == 2 and "unknown command" in err, f"unknown: {rc} {err!r}")


@case
def qm_start_stop(n):
    vm(n)
    if not os.path.exists("/usr/bin/qemu-system-x86_64"):
        raise Skip("no QEMU here")
    rc, out, err = sh(n, "qm", "start", "100")
    expect(rc == 0 and "TASK OK" not in out, f"start: {rc} {out!r} {err!r}")
    try:
        rc, out, err = sh(n, "qm", "status", "100")
        expect(out == "status: running\n", f"status: {rc} {out!r} {err!r}")
    finally:
        rc, out, err = sh(n, "qm", "stop", "100")
    expect(rc == 0, f"stop: {rc} {out!r} {err!r}")
    rc, out, err = sh(n, "qm", "status", "100")
    expect(out == "status: stopped\n", f"status: {rc} {out!r} {err!r}")


@case
def qm_destroy(n):
    rc, out, err = sh(n, "qm", "create", "101", "--memory", "256")
    expect(rc == 0, f"create: {rc} {err!r}")
    rc, out, err = sh(n, "qm", "destroy", "101")
    expect(rc == 0 and "TASK" not in out, f"destroy: {rc} {out!r} {err!r}")
    rc, out, err = sh(n, "qm", "config", "101")
    expect(rc == 1, f"config after destroy: {rc} {out!r}")


@case
def pct_is_pct(n):
    # an installed pct speaks to the node's container API (test-ct-pct.py runs its verbs)
    rc, out, err = sh(n, "pct", "list")
    expect(rc == 0 and out == "" and err == "", f"{rc} {out!r} {err!r}")
    rc, out, err = sh(n, "pct", "frobnicate", "100")
    expect(rc == 2 and "unknown command" in err, f"{rc} {out!r} {err!r}")


def main():
    with Node() as n:
        try:
            return run(n)
        finally:
            if "cleanup" in state:
                shutil.rmtree(state["cleanup"], ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
