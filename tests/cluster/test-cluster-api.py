#!/usr/bin/python3
# timeout: 420
"""A cluster made through the API, as an administrator makes one: three pveds, each in its own network
namespace on its own root, started exactly as a node is (pved --root --listen --node); node1 creates
the cluster, node2 joins through the API, node3 through pvectl cluster join. pved starts and stops
corosync and pvecfs itself. Then: every node sees three quorate members, a write on one is read on
all, a ticket of one node is valid on the others, a node's loss leaves the rest writable, delnode
shrinks the cluster, and a restart of every node keeps it."""

import json
import os
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import cfslib  # noqa: E402
from cfslib import Skip  # noqa: E402

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "integration"))
import pvetest  # noqa: E402
from pvetest import expect  # noqa: E402

STEPS = []


def step(fn):
    STEPS.append(fn)
    return fn


class ClusterNode(cfslib.PvedNode):
    def wait_serving(self, timeout=60):
        """Until the API answers a logged-in call again (a pved that restarts itself)."""
        end = time.monotonic() + timeout
        last = None
        while time.monotonic() < end:
            try:
                r = self.get("/version")
                if r.status in (200, 401):
                    return
                last = r
            except OSError as e:
                last = e
            time.sleep(0.2)
        raise AssertionError(f"{self.name} does not serve after {timeout} s: {last}; "
                             f"{self.logtext()[-1500:]}")

    def relogin(self, password, timeout=30):
        end = time.monotonic() + timeout
        while True:
            try:
                return self.login(password=password)
            except (AssertionError, OSError):
                if time.monotonic() > end:
                    raise
                time.sleep(0.3)

    def members(self):
        r = self.get("/cluster/status")
        expect(r.status == 200, f"{self.name}: /cluster/status: {r}")
        cl = [e for e in r.data if e["type"] == "cluster"]
        nodes = {e["name"]: e for e in r.data if e["type"] == "node"}
        return (cl[0] if cl else None), nodes


def wait_members(nd, names, timeout=60):
    end = time.monotonic() + timeout
    while True:
        try:
            cl, nodes = nd.members()
            if cl and cl["quorate"] == 1 and set(nodes) == set(names) and \
                    all(nodes[n]["online"] == 1 for n in names):
                return cl, nodes
        except (AssertionError, OSError) as e:
            cl, nodes = None, str(e)
        if time.monotonic() > end:
            raise AssertionError(f"{nd.name}: members after {timeout} s: {cl} {nodes}")
        time.sleep(0.3)


def fingerprint(nd):
    out = subprocess.run(["openssl", "x509", "-noout", "-fingerprint", "-sha256", "-in",
                          nd.path(f"etc/pve/nodes/{nd.name}/pve-ssl.pem")],
                         stdout=subprocess.PIPE, text=True, check=True).stdout
    return out.strip().split("=", 1)[1]


@step
def create(ctx):
    n1 = ctx.nodes[0]
    r = n1.post("/cluster/config", {"clustername": "bad name!"})
    expect(r.status == 400 and "clustername" in errors_of(r), f"a bad name is refused: {r}")
    r = n1.post("/cluster/config", {"clustername": "pvedtest"})
    expect(r.status == 200, f"create: {r}")
    st = n1.wait_task(r.data, timeout=60)
    expect(st["exitstatus"] == "OK", f"create task: {st}")
    # pved restarts itself with corosync and pvecfs in cluster mode
    time.sleep(1.5)
    n1.wait_serving()
    n1.relogin(ctx.password)
    cl, nodes = wait_members(n1, ["node1"])
    expect(cl["name"] == "pvedtest" and nodes["node1"]["local"] == 1 and
           nodes["node1"]["ip"] == n1.nn.ip, f"a cluster of one: {cl} {nodes}")
    expect(os.path.exists(n1.path("etc/corosync/authkey")) and
           os.stat(n1.path("etc/corosync/authkey")).st_mode & 0o777 == 0o400,
           "the corosync key is the root's, 0400")
    r = n1.post("/cluster/config", {"clustername": "again"})
    expect(r.status != 200 or n1.wait_task(r.data)["exitstatus"] != "OK",
           "a second create is refused")
    # the guest that shows the cluster is the same tree: a pool made now must be on every node later
    r = n1.post("/pools", {"poolid": "beforejoin"})
    expect(r.status == 200, f"a write on the new cluster: {r}")


@step
def join_through_api(ctx):
    n1, n2 = ctx.nodes[0], ctx.nodes[1]
    fp = fingerprint(n1)
    r = n2.post("/cluster/config/join", {"hostname": n1.nn.ip, "password": "wrong",
                                         "username": "admin@pve", "fingerprint": fp})
    expect(r.status == 200, f"join: {r}")
    st = n2.wait_task(r.data, timeout=60)
    expect(st["exitstatus"] != "OK", f"a wrong password fails the join: {st}")
    wrong_fp = "00:" * 31 + "00"
    r = n2.post("/cluster/config/join", {"hostname": n1.nn.ip, "password": ctx.password,
                                         "username": "admin@pve", "fingerprint": wrong_fp})
    st = n2.wait_task(r.data, timeout=60)
    expect(st["exitstatus"] != "OK", f"a wrong fingerprint fails the join: {st}")
    r = n2.post("/cluster/config/join", {"hostname": n1.nn.ip, "password": ctx.password,
                                         "username": "admin@pve", "fingerprint": fp})
    expect(r.status == 200, f"join: {r}")
    st = n2.wait_task(r.data, timeout=60)
    expect(st["exitstatus"] == "OK", f"join task: {st}")
    time.sleep(1.5)
    n2.wait_serving(timeout=90)
    # the cluster's tree replaced node2's: node1's administrator password, node1's pool
    n2.relogin(ctx.password, timeout=60)
    wait_members(n2, ["node1", "node2"])
    wait_members(n1, ["node1", "node2"])
    pools = [p["poolid"] for p in n2.get("/pools").data]
    expect("beforejoin" in pools, f"node2 has the cluster's tree: {pools}")
    expect(any(name.startswith("before-join-") for name in
               os.listdir(n2.path("var/lib/pve-cluster"))),
           "node2's own tree is kept aside")


@step
def join_through_pvectl(ctx):
    n1, n3 = ctx.nodes[0], ctx.nodes[2]
    pwfile = os.path.join(ctx.net.tmp, "password")
    with open(pwfile, "w") as f:
        f.write(ctx.password + "\n")
    os.chmod(pwfile, 0o600)
    env = dict(os.environ, PVED_ROOT=n3.root)
    cmd = ["nsenter", f"--net=/run/netns/{n3.nn.ns}", os.path.join(pvetest.BIN, "pvectl"),
           "cluster", "join", n1.nn.ip, "--user", "admin@pve", "--password-file", pwfile]
    r = subprocess.run(cmd, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                       timeout=60)
    fp = fingerprint(n1)
    expect(r.returncode != 0 and fp in r.stderr,
           f"without --fingerprint, pvectl shows the node's and stops: {r.returncode} {r.stderr}")
    r = subprocess.run(cmd + ["--fingerprint", fp], env=env, stdout=subprocess.PIPE,
                       stderr=subprocess.PIPE, text=True, timeout=120)
    expect(r.returncode == 0 and "Join request OK" in r.stdout,
           f"pvectl cluster join: {r.returncode} {r.stdout[-800:]} {r.stderr[-800:]}")
    time.sleep(1.5)
    n3.wait_serving(timeout=90)
    n3.relogin(ctx.password, timeout=60)
    for nd in ctx.nodes:
        wait_members(nd, ["node1", "node2", "node3"])
    r = subprocess.run(["nsenter", f"--net=/run/netns/{n3.nn.ns}",
                        os.path.join(pvetest.BIN, "pvectl"), "cluster", "nodes",
                        "--output-format", "json"], env=env, stdout=subprocess.PIPE, text=True)
    expect(r.returncode == 0 and all(f"node{i}" in r.stdout for i in (1, 2, 3)),
           f"pvectl cluster nodes: {r.stdout}")


@step
def replicated_and_shared_tickets(ctx):
    n1, n2, n3 = ctx.nodes
    r = n3.post("/pools", {"poolid": "fromnode3"})
    expect(r.status == 200, f"a write on node3: {r}")
    end = time.monotonic() + 10
    while "fromnode3" not in [p["poolid"] for p in n1.get("/pools").data]:
        expect(time.monotonic() < end, "node1 reads node3's write")
        time.sleep(0.1)
    # node1's ticket on node2 and node3: one key for the whole cluster
    r = n2.get("/pools", ticket=n1.ticket)
    expect(r.status == 200, f"node1's ticket on node2: {r}")
    r = n3.get("/access/users", ticket=n1.ticket)
    expect(r.status == 200, f"node1's ticket on node3: {r}")
    # any node answers for every node: node1 forwards a call for node3
    r = n1.get("/nodes/node3/network")
    expect(r.status == 200, f"node3's network through node1: {r}")
    with open(n1.path("etc/corosync/corosync.conf")) as a, \
            open(n3.path("etc/corosync/corosync.conf")) as b:
        expect(a.read() == b.read(), "every node installed the same corosync.conf")


@step
def node_lost_and_back(ctx):
    n1, n2, n3 = ctx.nodes
    n3.stop()
    wait_members_online(n1, {"node1": 1, "node2": 1, "node3": 0})
    r = n1.post("/pools", {"poolid": "twoofthree"})
    expect(r.status == 200, f"two of three stay writable: {r}")
    n3.start(timeout=60)
    n3.wait_serving()
    n3.relogin(ctx.password)
    wait_members(n1, ["node1", "node2", "node3"])
    end = time.monotonic() + 15
    while "twoofthree" not in [p["poolid"] for p in n3.get("/pools").data]:
        expect(time.monotonic() < end, "node3 resynced what it missed")
        time.sleep(0.2)


def wait_members_online(nd, want, timeout=30):
    end = time.monotonic() + timeout
    while True:
        _, nodes = nd.members()
        got = {n: e["online"] for n, e in nodes.items()}
        if got == want:
            return
        if time.monotonic() > end:
            raise AssertionError(f"{nd.name}: online {got}, wanted {want}")
        time.sleep(0.3)


@step
def delnode(ctx):
    n1, n2, n3 = ctx.nodes
    r = n1.request("DELETE", "/cluster/config/nodes/node1")
    expect(r.status != 200, f"a node does not delete itself: {r}")
    n3.stop()
    r = n1.request("DELETE", "/cluster/config/nodes/node3")
    expect(r.status == 200, f"delnode node3: {r}")
    end = time.monotonic() + 20
    while True:
        with open(n2.path("etc/corosync/corosync.conf")) as f:
            if "node3" not in f.read():
                break
        expect(time.monotonic() < end, "node2 installed the corosync.conf without node3")
        time.sleep(0.2)
    wait_members(n1, ["node1", "node2"])


@step
def restart_all(ctx):
    n1, n2 = ctx.nodes[0], ctx.nodes[1]
    for nd in (n1, n2):
        nd.stop()
    for nd in (n1, n2):
        nd.start(timeout=60)
    for nd in (n1, n2):
        nd.wait_serving()
        nd.relogin(ctx.password)
    wait_members(n1, ["node1", "node2"])
    pools = [p["poolid"] for p in n2.get("/pools").data]
    expect({"beforejoin", "fromnode3", "twoofthree"} <= set(pools), f"the tree is kept: {pools}")


class Ctx:
    pass


def errors_of(r):
    try:
        return json.loads(r.body).get("errors") or {}
    except ValueError:
        return {}


def main():
    if os.geteuid() != 0:
        print("skip all: needs root (network namespaces, FUSE, corosync)")
        return 0
    for need in ("corosync", "unshare", "nsenter"):
        if not subprocess.run(["which", need], stdout=subprocess.DEVNULL).returncode == 0:
            print(f"skip all: {need} is not installed (tools/setup-deps)")
            return 0
    if not os.access("/dev/fuse", os.R_OK | os.W_OK):
        print("skip all: no /dev/fuse")
        return 0
    ctx = Ctx()
    failed = 0
    try:
        with cfslib.Cluster(3, services=False, host_ip=True) as net:
            ctx.net = net
            # node1 and node3 on pvecfs from their start, node2 on plain files until it joins
            ctx.nodes = [ClusterNode(net.nodes[0], ["--pvecfs"]), ClusterNode(net.nodes[1], []),
                         ClusterNode(net.nodes[2], ["--pvecfs"])]
            try:
                for nd in ctx.nodes:
                    nd.start(timeout=60)
                ctx.password = ctx.nodes[0].admin_password
                for nd in ctx.nodes:
                    nd.login()
                for fn in STEPS:
                    name = fn.__name__
                    t0 = time.monotonic()
                    try:
                        fn(ctx)
                        print(f"ok {name} ({time.monotonic() - t0:.1f} s)")
                    except Exception as e:  # noqa: BLE001
                        print(f"FAIL {name}: {e}")
                        failed += 1
                        break  # every step builds on the one before
            finally:
                for nd in ctx.nodes:
                    nd.stop()
                    subprocess.run(["umount", "-l", nd.path("etc/pve")],
                                   stderr=subprocess.DEVNULL)
                if failed and os.environ.get("PVED_KEEP"):
                    print(f"kept {net.tmp}")
    except Skip as e:
        print(f"skip all: {e}")
        return 0
    if failed:
        skipped = len(STEPS) - [f.__name__ for f in STEPS].index(name) - 1
        for fn in STEPS[len(STEPS) - skipped:]:
            print(f"skip {fn.__name__}: an earlier step failed")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
