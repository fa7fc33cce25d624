"""`make run`'s node network (tools/run-node): a fresh throwaway root gets a port-less bridge vmbr0 as a
pending change (etc/network/interfaces.new), listed by the API as pending and applied by nobody but the
user; a root with an interfaces file of its own keeps it byte for byte and gets nothing pending. Nothing
here touches a network: the test never applies. Runs as root; every pved it starts is stopped by PID."""

import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from pvetest import TOP, case, expect, free_port, run  # noqa: E402

VMBR0 = ("auto lo\niface lo inet loopback\n\nauto vmbr0\niface vmbr0 inet manual\n"
         "\tbridge-ports none\n\tbridge-stp off\n\tbridge-fd 0\n")


def run_node(root):
    """tools/run-node on root until its HTTPS port answers; returns the process (pved, exec'd)."""
    port = free_port()
    env = dict(os.environ, PVED_ROOT=root, PVED_LISTEN=f"127.0.0.1:{port}",
               PVED_ARGS="--node rnode")
    log = open(os.path.join(os.path.dirname(root.rstrip("/")), "run-node.log"), "ab")
    p = subprocess.Popen([os.path.join(TOP, "tools", "run-node")], env=env, stdout=log,
                         stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)
    deadline = time.time() + 20
    while time.time() < deadline:
        expect(p.poll() is None, f"run-node exited with {p.returncode}")
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.5):
                return p
        except OSError:
            time.sleep(0.05)
    stop(p)
    raise AssertionError("the node did not come up")


def stop(p):
    if p.poll() is None:
        p.send_signal(signal.SIGTERM)
        try:
            p.wait(10)
        except subprocess.TimeoutExpired:
            p.kill()
            p.wait()


def read(path):
    try:
        with open(path) as f:
            return f.read()
    except FileNotFoundError:
        return None


@case
def fresh_root_gets_a_pending_vmbr0():
    top = tempfile.mkdtemp(prefix="pved-runnode-")
    try:
        root = os.path.join(top, "root")  # does not exist yet: run-node makes it
        p = run_node(root)
        try:
            expect(read(os.path.join(root, "etc/network/interfaces")) is None,
                   "the file in force was written")
            expect(read(os.path.join(root, "etc/network/interfaces.new")) == VMBR0,
                   read(os.path.join(root, "etc/network/interfaces.new")))
        finally:
            stop(p)
        # a second start leaves what is pending alone
        with open(os.path.join(root, "etc/network/interfaces.new"), "a") as f:
            f.write("# the user's\n")
        p = run_node(root)
        stop(p)
        expect(read(os.path.join(root, "etc/network/interfaces.new")) == VMBR0 + "# the user's\n",
               "the pending copy was rewritten")
    finally:
        shutil.rmtree(top, ignore_errors=True)


@case
def own_interfaces_file_untouched():
    top = tempfile.mkdtemp(prefix="pved-runnode-")
    try:
        root = os.path.join(top, "root")
        os.makedirs(os.path.join(root, "etc/network"))
        mine = "auto eno1\niface eno1 inet dhcp\n"
        with open(os.path.join(root, "etc/network/interfaces"), "w") as f:
            f.write(mine)
        p = run_node(root)
        stop(p)
        expect(read(os.path.join(root, "etc/network/interfaces")) == mine, "the file changed")
        expect(read(os.path.join(root, "etc/network/interfaces.new")) is None, "a pending copy")
    finally:
        shutil.rmtree(top, ignore_errors=True)


if __name__ == "__main__":
    if os.geteuid() != 0:
        print("skip network-runnode: needs root")
        sys.exit(0)
    sys.exit(run())
