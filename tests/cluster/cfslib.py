"""Cluster-test support: N nodes on one machine, each in its own network namespace on a private bridge,
with its own root, corosync (its /run bind-mounted privately, as the reference's recipe does) and
pvecfs; a client of pvecfs's socket protocol. Everything is started by PID and removed by PID, also
when a case fails."""

import json
import os
import shutil
import signal
import socket
import sqlite3
import struct
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "integration"))
import pvetest  # noqa: E402
from pvetest import Skip, case, expect, run  # noqa: E402,F401

BIN = pvetest.BIN

OP = {"READ": 1, "STAT": 2, "LIST": 3, "WRITE": 4, "DELETE": 5, "RENAME": 6, "MKDIR": 7,
      "LOCK": 8, "UNLOCK": 9, "LOCK_REFRESH": 10, "REPLY": 17, "SET_STATUS": 20,
      "GET_STATUS": 21, "LOG": 22, "LOG_READ": 23}
HDR = struct.Struct("<IIIiQQqQHHHHQ")
EACCES, EEXIST, ENOENT = 13, 17, 2


class CfsError(Exception):
    def __init__(self, errno_):
        super().__init__(f"errno {errno_} ({os.strerror(errno_)})")
        self.errno = errno_


class Client:
    """One connection to a pvecfs socket: each call one request and its reply."""

    def __init__(self, path, timeout=10):
        self.s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.s.settimeout(timeout)
        self.s.connect(path)
        self.req = 0

    def close(self):
        self.s.close()

    def _recv(self, n):
        buf = b""
        while len(buf) < n:
            chunk = self.s.recv(n - len(buf))
            if not chunk:
                raise ConnectionError("pvecfs closed the connection")
            buf += chunk
        return buf

    def call(self, op, path="", path2="", tag="", data=b"", flags=0, arg=0):
        self.req += 1
        p, p2, t = path.encode(), path2.encode(), tag.encode()
        total = HDR.size + len(p) + 1 + len(p2) + 1 + len(t) + 1 + len(data)
        frame = HDR.pack(total, OP[op], flags, 0, self.req, 0, 0, arg, len(p), len(p2), len(t), 0,
                         len(data)) + p + b"\0" + p2 + b"\0" + t + b"\0" + data
        self.s.sendall(frame)
        hdr = self._recv(HDR.size)
        f = HDR.unpack(hdr)
        rest = self._recv(f[0] - HDR.size)
        if f[1] != OP["REPLY"] or f[4] != self.req:
            raise ConnectionError("a reply out of order")
        if f[3] < 0:
            raise CfsError(-f[3])
        off = f[8] + 1 + f[9] + 1 + f[10] + 1
        return rest[off:]

    def write(self, path, data):
        return self.call("WRITE", path, data=data if isinstance(data, bytes) else data.encode())

    def read(self, path):
        return self.call("READ", path)

    def log(self, msg, tag="pved", user="root@pam", priority=6):
        """An entry in the cluster log (msg: bytes or text)."""
        return self.call("LOG", tag, user, data=msg if isinstance(msg, bytes) else msg.encode(),
                         flags=priority)

    def log_read(self, user="", max_entries=0):
        """The cluster log's newest entries (0: 50), newest first, as pmxcfs's JSON's list."""
        return json.loads(self.call("LOG_READ", user, arg=max_entries))["data"]

    def list(self, path=""):
        out = self.call("LIST", path)
        return [x.decode() for x in out.split(b"\0") if x]

    def tree(self, path=""):
        """Every file under path with its bytes."""
        files = {}
        for name in self.list(path):
            sub = f"{path}/{name}" if path else name
            try:
                files[sub] = self.read(sub)
            except CfsError as e:
                if e.errno != 21:  # EISDIR
                    raise
                files.update(self.tree(sub))
        return files


def kill_wait(pid, sig=signal.SIGTERM, timeout=5):
    if not pid:
        return
    try:
        os.kill(pid, sig)
    except ProcessLookupError:
        return
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        try:
            if os.waitpid(pid, os.WNOHANG)[0] == pid:
                return
        except ChildProcessError:
            return
        time.sleep(0.02)
    try:
        os.kill(pid, signal.SIGKILL)
        os.waitpid(pid, 0)
    except (ProcessLookupError, ChildProcessError):
        pass


def sh(*args, check=True):
    r = subprocess.run(args, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    if check and r.returncode != 0:
        raise RuntimeError(f"{' '.join(args)}: {r.stdout.strip()}")
    return r


class Node:
    def __init__(self, cl, i):
        self.cl, self.i = cl, i
        self.name = f"node{i}"
        self.ns = f"{cl.tag}n{i}"
        self.veth = f"{cl.tag}v{i}"
        self.ip = f"10.213.{cl.net}.{10 + i}"
        self.dir = os.path.join(cl.tmp, self.name)
        self.root = os.path.join(self.dir, "root")
        self.sock = os.path.join(self.root, "run", "pvecfs.sock")
        self.mnt = os.path.join(self.root, "etc", "pve")
        self.db = os.path.join(self.root, "var", "lib", "pve-cluster", "config.db")
        self.coro_pid = self.cfs_pid = None
        for d in ("run", "lib", "log", "etc", "root"):
            os.makedirs(os.path.join(self.dir, d), exist_ok=True)

    def write_conf(self, names):
        nodes = "".join(f"  node {{\n    name: node{j}\n    nodeid: {j}\n    ring0_addr: "
                        f"10.213.{self.cl.net}.{10 + j}\n  }}\n" for j in names)
        conf = f"""totem {{
  version: 2
  cluster_name: pvecfs-test
  transport: knet
  crypto_cipher: none
  crypto_hash: none
  token: 500
  token_coefficient: 0
  interface {{
    linknumber: 0
    knet_ping_interval: 100
    knet_ping_timeout: 400
  }}
}}
nodelist {{
{nodes}}}
quorum {{
  provider: corosync_votequorum
}}
logging {{
  to_stderr: no
  to_syslog: no
  to_logfile: yes
  logfile: {self.dir}/log/corosync.log
  timestamp: hires
}}
system {{
  state_dir: {self.dir}/lib
  sched_rr: no
  move_to_root_cgroup: no
}}
"""
        with open(os.path.join(self.dir, "etc", "corosync.conf"), "w") as f:
            f.write(conf)

    def start_corosync(self):
        log = open(os.path.join(self.dir, "log", "stdout"), "ab")
        # ip netns exec gives a private mount namespace: the bind of /run (corosync's fixed pid
        # file) stays in it; sh execs corosync, so the PID is corosync's
        p = subprocess.Popen(["ip", "netns", "exec", self.ns, "sh", "-c",
                              f"mount --bind {self.dir}/run /run && exec corosync -f -c "
                              f"{self.dir}/etc/corosync.conf"], stdout=log, stderr=log)
        self.coro_pid = p.pid
        self.cl.procs.append(p.pid)

    def start_pvecfs(self, wait=True):
        log = open(os.path.join(self.dir, "log", "pvecfs.log"), "ab")
        # only the network namespace (corosync's IPC is per network namespace): the FUSE mount is
        # seen from here
        p = subprocess.Popen(["nsenter", f"--net=/run/netns/{self.ns}",
                              os.path.join(BIN, "pvecfs"), "--root", self.root, "--node",
                              self.name, "--cluster"], stdout=log, stderr=log)
        self.cfs_pid = p.pid
        self.cl.procs.append(p.pid)
        if wait:
            self.wait_socket()

    def wait_socket(self, timeout=15):
        end = time.monotonic() + timeout
        while time.monotonic() < end:
            try:
                c = Client(self.sock)
                c.close()
                return
            except OSError:
                time.sleep(0.05)
        raise RuntimeError(f"{self.name}: pvecfs did not start: {self.log_tail()}")

    def log_tail(self):
        try:
            with open(os.path.join(self.dir, "log", "pvecfs.log")) as f:
                return f.read()[-800:]
        except OSError:
            return ""

    def client(self):
        return Client(self.sock)

    def stop_pvecfs(self, sig=signal.SIGTERM):
        kill_wait(self.cfs_pid, sig)
        self.cfs_pid = None
        subprocess.run(["umount", "-l", self.mnt], stderr=subprocess.DEVNULL)

    def stop_corosync(self, sig=signal.SIGTERM):
        pid = self.coro_pid
        kill_wait(pid, sig)
        self.coro_pid = None
        if pid:
            for f in os.listdir("/dev/shm"):
                if f"-{pid}-" in f:
                    shutil.rmtree(os.path.join("/dev/shm", f), ignore_errors=True)
                    try:
                        os.unlink(os.path.join("/dev/shm", f))
                    except OSError:
                        pass

    def quorate(self):
        r = subprocess.run(["ip", "netns", "exec", self.ns, "corosync-quorumtool", "-s"],
                           stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        return r.returncode == 0

    def write_retry(self, path, data, timeout=10):
        """A write, tried again while the node is still coming to quorum; the time it took."""
        start = time.monotonic()
        while True:
            try:
                c = self.client()
                try:
                    c.write(path, data)
                finally:
                    c.close()
                return time.monotonic() - start
            except (CfsError, OSError) as e:
                if time.monotonic() - start > timeout:
                    raise AssertionError(f"{self.name}: write of {path} failed for {timeout} s: {e}")
                time.sleep(0.05)


class PvedNode(pvetest.Node):
    """A pved on a cfslib node's root, started as a node is: in the node's network namespace
    (nsenter with only --net execs pved: the PID is pved's), on its address and port 8006 (and
    3128, the SPICE proxy's). The
    root's etc/hosts names the node's address, as Proxmox expects of a node's hosts file. args:
    pved's further options (the default runs on the pvecfs the Cluster started)."""

    def __init__(self, net_node, args=("--pvecfs=cluster",)):
        self.nn = net_node
        os.makedirs(os.path.join(net_node.root, "etc"), exist_ok=True)
        os.chmod(net_node.dir, 0o755)
        with open(os.path.join(net_node.root, "etc", "hosts"), "w") as f:
            f.write(f"127.0.0.1 localhost\n{net_node.ip} {net_node.name}\n")
        super().__init__(name=net_node.name, root=net_node.root, args=args, host=net_node.ip,
                         port=8006, wrap=["nsenter", f"--net=/run/netns/{net_node.ns}"])
        # the SPICE proxy on Proxmox's port too: nodes pass a CONNECT on to each other's 3128
        self.spice_port = 3128


class Cluster:
    """services: start corosync and pvecfs per node (else only the network, for pveds that run their
    own); host_ip: give the bridge an address of the private /24, so that the test reaches the nodes
    from its own namespace (traffic stays on the test's bridge)."""

    def __init__(self, n=3, services=True, host_ip=False):
        self.n = n
        self.services = services
        self.host_ip = host_ip
        self.tag = f"pc{os.getpid() % 100000}"
        self.net = os.getpid() % 250 + 1
        self.bridge = f"{self.tag}br"
        self.procs = []
        self.tmp = None
        self.nodes = []

    def __enter__(self):
        if os.geteuid() != 0:
            raise Skip("needs root (network namespaces, FUSE)")
        if not shutil.which("corosync"):
            raise Skip("corosync is not installed (tools/setup-deps)")
        if not os.access("/dev/fuse", os.R_OK | os.W_OK):
            raise Skip("no /dev/fuse")
        if not os.access(os.path.join(BIN, "pvecfs"), os.X_OK):
            raise Skip(f"no pvecfs in {BIN} (make all)")
        self.tmp = tempfile.mkdtemp(prefix="pved-cluster-")
        try:
            sh("ip", "link", "add", self.bridge, "type", "bridge")
            sh("ip", "link", "set", self.bridge, "up")
            if self.host_ip:
                sh("ip", "addr", "add", f"10.213.{self.net}.1/24", "dev", self.bridge)
            for i in range(1, self.n + 1):
                nd = Node(self, i)
                self.nodes.append(nd)
                sh("ip", "netns", "add", nd.ns)
                sh("ip", "link", "add", nd.veth, "type", "veth", "peer", "name", "eth0", "netns",
                   nd.ns)
                sh("ip", "link", "set", nd.veth, "master", self.bridge, "up")
                sh("ip", "-n", nd.ns, "link", "set", "lo", "up")
                sh("ip", "-n", nd.ns, "addr", "add", f"{nd.ip}/24", "dev", "eth0")
                sh("ip", "-n", nd.ns, "link", "set", "eth0", "up")
            if self.services:
                for nd in self.nodes:
                    nd.write_conf(range(1, self.n + 1))
                    nd.start_corosync()
                self.wait_quorate()
                for nd in self.nodes:
                    nd.start_pvecfs()
        except BaseException:
            self.__exit__(None, None, None)
            raise
        return self

    def wait_quorate(self, nodes=None, timeout=40):
        end = time.monotonic() + timeout
        for nd in nodes or self.nodes:
            while not nd.quorate():
                if time.monotonic() > end:
                    raise RuntimeError(f"{nd.name}: corosync not quorate after {timeout} s")
                time.sleep(0.1)

    def after_failure(self):
        """After a failed case: the tail of each node's logs, then every node back (link up,
        corosync, quorum, pvecfs) for the next case."""
        for nd in self.nodes:
            for log in ("corosync.log", "pvecfs.log", "stdout"):
                path = os.path.join(nd.dir, "log", log)
                try:
                    with open(path, errors="replace") as f:
                        tail = f.readlines()[-12:]
                except OSError:
                    continue
                print(f"# {nd.name} {log}:\n" + "".join(f"#   {line}" for line in tail), end="",
                      flush=True)
        if not self.services:
            return
        try:
            for nd in self.nodes:
                sh("ip", "-n", nd.ns, "link", "set", "eth0", "up")
                if not nd.coro_pid:
                    nd.start_corosync()
            self.wait_quorate(timeout=60)
            for nd in self.nodes:
                if not nd.cfs_pid:
                    nd.start_pvecfs()
        except Exception as e:
            print(f"# the cluster did not come back after the failure: {e!r}", flush=True)

    def __exit__(self, *exc):
        for nd in self.nodes:
            nd.stop_pvecfs()
        for nd in self.nodes:
            nd.stop_corosync()
        for pid in self.procs:
            kill_wait(pid, signal.SIGKILL, 1)
        for nd in self.nodes:
            sh("ip", "netns", "del", nd.ns, check=False)
            sh("ip", "link", "del", nd.veth, check=False)
        sh("ip", "link", "del", self.bridge, check=False)
        if self.tmp and not os.environ.get("PVED_KEEP"):
            shutil.rmtree(self.tmp, ignore_errors=True)
        return False


def cluster_main(n=3):
    """The usual main of a cluster test: n nodes, every case run on them in order."""
    try:
        with Cluster(n) as cl:
            return run(cl)
    except Skip as e:
        print(f"skip all: {e}")
        return 0


def converged(nodes, timeout=10):
    """Every node's tree the same (within timeout); the tree."""
    end = time.monotonic() + timeout
    while True:
        trees = []
        for nd in nodes:
            c = nd.client()
            try:
                t = c.tree()
            finally:
                c.close()
            t.pop("priv/lock", None)
            trees.append(t)
        if all(t == trees[0] for t in trees):
            return trees[0]
        if time.monotonic() > end:
            diff = [sorted(set(t.items()) ^ set(trees[0].items()))[:4] for t in trees[1:]]
            raise AssertionError(f"trees differ after {timeout} s: {diff}")
        time.sleep(0.1)


def db_ok(path):
    db = sqlite3.connect(path)
    try:
        return db.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
    finally:
        db.close()
