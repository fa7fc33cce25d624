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


@case
def make_install_names(n):
    dest = tempfile.mkdtemp(prefix="pved-pvesh-")
    state["cleanup"] = dest
    p = subprocess.run(["make", "-s", "install", f"DESTDIR={dest}"], cwd=TOP,
                       capture_output=True, text=True)
    if p.returncode != 0:
        state["why"] = "make install failed"
        raise AssertionError(f"make install: {p.stderr[-500:]}")
    state["dest"] = dest
    for name in ("pvesh", "qm", "pct"):
        path = os.path.join(dest, "usr/local/bin", name)
        expect(os.path.islink(path) and os.readlink(path) == "pvectl",
               f"{name}: {os.readlink(path) if os.path.islink(path) else 'not a link'}")
    # and not with NO_COMPAT_NAMES=1
    bare = tempfile.mkdtemp(prefix="pved-pvesh-bare-")
    try:
        p = subprocess.run(["make", "-s", "install", f"DESTDIR={bare}", "NO_COMPAT_NAMES=1"],
                           cwd=TOP, capture_output=True, text=True)
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


def main():
    with Node() as n:
        try:
            return run(n)
        finally:
            if "cleanup" in state:
                shutil.rmtree(state["cleanup"], ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
