"""pct (pvectl run by that name, and `pvectl ct`) against a real node: list, create, config, set,
pending, start, status, exec (exit status, output, stdin), push and pull (a file into and out of the
container, owned and moded as asked), enter (a shell on a pty of its own), console (attached and left
with Ctrl+a q while the container runs on), snapshot (refused on dir), clone, resize, stop, destroy."""

import os
import pty
import select
import shutil
import signal
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from pvetest import BIN, case, expect  # noqa: E402
import vmlib  # noqa: E402

state = {}


def pct(n, *args, stdin=None, timeout=120):
    e = dict(os.environ, PVED_ROOT=n.root, COLUMNS="200", LC_ALL="C.UTF-8")
    p = subprocess.run([state["pct"], *args], capture_output=True, text=True, env=e,
                       input=stdin, timeout=timeout)
    return p.returncode, p.stdout, p.stderr


def ok(n, *args, **kw):
    code, out, err = pct(n, *args, **kw)
    expect(code == 0, f"pct {' '.join(args)}: {code} {out} {err}")
    return out


def interact(n, args, script, wait_for, timeout=20, after=None):
    """Runs pct on a pty, types script, reads until wait_for is seen; (exit status, output)."""
    pid, fd = pty.fork()
    if pid == 0:
        os.environ.update(PVED_ROOT=n.root, LC_ALL="C.UTF-8", TERM="dumb")
        os.execv(state["pct"], [state["pct"], *args])
    out = b""
    deadline = time.time() + timeout
    sent = False
    try:
        while time.time() < deadline:
            r, _, _ = select.select([fd], [], [], 0.2)
            if r:
                try:
                    chunk = os.read(fd, 4096)
                except OSError:
                    break
                if not chunk:
                    break
                out += chunk
            if not sent and ((after and after.encode() in out) or
                             (not after and time.time() > deadline - timeout + 0.5)):
                os.write(fd, script)
                sent = True
            if wait_for.encode() in out:
                break
        for _ in range(50):
            done, status = os.waitpid(pid, os.WNOHANG)
            if done:
                return os.waitstatus_to_exitcode(status), out.decode(errors="replace")
            time.sleep(0.1)
        os.kill(pid, signal.SIGKILL)
        os.waitpid(pid, 0)
        return None, out.decode(errors="replace")
    finally:
        os.close(fd)


@case
def lifecycle_through_pct(n):
    tmpl = vmlib.ct_template(n)
    ok(n, "create", "500", tmpl, "--rootfs", "local:1", "--hostname", "pctone")
    out = ok(n, "list")
    expect(out.split("\n")[0].split() == ["VMID", "Status", "Lock", "Name"], out)
    expect("500" in out and "stopped" in out and "pctone" in out, out)
    out = ok(n, "config", "500")
    expect("hostname: pctone" in out and "unprivileged: 1" in out and "digest" not in out, out)
    ok(n, "set", "500", "--description", "set by pct", "--cores", "2")
    out = ok(n, "config", "500")
    expect("#set by pct" in out and "cores: 2" in out, out)
    code, out, err = pct(n, "snapshot", "500", "s1")
    expect(code != 0 and "snapshot feature is not available" in out + err, (code, out, err))
    ok(n, "start", "500")
    expect(ok(n, "status", "500") == "status: running\n", "not running")
    # exec: status, output, stdin
    code, out, err = pct(n, "exec", "500", "--", "sh", "-c", "echo hello; echo oops >&2; exit 5")
    expect(code == 5 and out == "hello\n" and err == "oops\n", (code, out, err))
    code, out, _ = pct(n, "exec", "500", "--", "tr", "a-z", "A-Z", stdin="shout\n")
    expect(code == 0 and out == "SHOUT\n", (code, out))
    # push and pull
    src = os.path.join(state["tmp"], "payload")
    with open(src, "wb") as f:
        f.write(os.urandom(200000))
    ok(n, "push", "500", src, "/root/payload", "--perms", "0600", "--user", "1000")
    code, out, _ = pct(n, "exec", "500", "--", "sh", "-c", "stat -c '%a %u' /root/payload")
    expect(out == "600 1000\n", out)
    dst = os.path.join(state["tmp"], "back")
    ok(n, "pull", "500", "/root/payload", dst)
    expect(open(dst, "rb").read() == open(src, "rb").read(), "pulled bytes differ")
    code, out, err = pct(n, "pull", "500", "/no/such/file", dst + "2")
    expect(code != 0 and not os.path.exists(dst + "2"), (code, out, err))
    # enter: a shell on a pty; console: attach and leave with Ctrl+a q
    code, out = interact(n, ["enter", "500"], b"echo in-$((6*7)); exit\n", "in-42", after="# ")
    expect("in-42" in out, out)
    # the console's own output is the init's; pct leaves at Ctrl+a q (the pty then ends)
    code, out = interact(n, ["console", "500"], b"\n\x01q", "\0never", timeout=10,
                         after="Connected")
    expect("Connected" in out, out)
    expect(code == 0, (code, out))
    expect(ok(n, "status", "500") == "status: running\n", "the console stopped the container")
    out = subprocess.run([os.path.join(BIN, "pvectl"), "--root", n.root, "ct", "list"],
                         capture_output=True, text=True).stdout
    expect("pctone" in out and "running" in out, out)
    ok(n, "stop", "500")
    ok(n, "clone", "500", "501", "--hostname", "pcttwo")
    ok(n, "resize", "501", "rootfs", "+256M")
    expect("size=1280M" in ok(n, "config", "501"), ok(n, "config", "501"))
    ok(n, "destroy", "501")
    ok(n, "destroy", "500")
    expect("500" not in ok(n, "list"), "destroyed CT still listed")
    code, out, err = pct(n, "frobnicate", "500")
    expect(code == 2 and "unknown command" in err, (code, err))


def main():
    if os.geteuid() != 0:
        print("skip all: needs root")
        return 0
    state["tmp"] = tempfile.mkdtemp(prefix="pct-test-")
    state["pct"] = os.path.join(state["tmp"], "pct")
    os.symlink(os.path.abspath(os.path.join(BIN, "pvectl")), state["pct"])
    try:
        return vmlib.ct_main()
    finally:
        shutil.rmtree(state["tmp"], ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
