#!/usr/bin/python3
# timeout: 400
# exclusive
"""pvecfs on 3 nodes, each in its own network namespace with its own root, corosync and pvecfs: a
write on any node is read on all, concurrent writers converge, a lost node leaves the rest writable,
two lost leave the last read-only, a partition leaves the minority read-only and heals without losing
an acknowledged write, a restart of all keeps the tree, a pvecfs killed with -9 mid-stream leaves a
consistent database and resyncs, and the FUSE mount reads and writes. The cases run in order on one
cluster; each leaves all nodes up."""

import json
import os
import signal
import sys
import threading
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import cfslib  # noqa: E402
from cfslib import EACCES, EEXIST, CfsError, case, converged, db_ok, expect  # noqa: E402


def read_on(nd, path):
    c = nd.client()
    try:
        return c.read(path)
    finally:
        c.close()


def expect_refused(nd, path, errno_, timeout=10):
    """Writes on nd are refused with errno_ within timeout (a node notices a loss in about 1 s)."""
    end = time.monotonic() + timeout
    while True:
        c = nd.client()
        try:
            c.write(path, "x")
        except CfsError as e:
            if e.errno == errno_:
                return
            raise
        finally:
            c.close()
        if time.monotonic() > end:
            raise AssertionError(f"{nd.name}: writes still accepted after {timeout} s")
        time.sleep(0.1)


def rejoin(cl, nd):
    if not nd.coro_pid:
        nd.start_corosync()
    cl.wait_quorate([nd])
    if not nd.cfs_pid:
        nd.start_pvecfs()


@case
def write_on_any_read_on_all(cl):
    for i, nd in enumerate(cl.nodes):
        nd.write_retry(f"nodes/{nd.name}/qemu-server/{100 + i}.conf", f"cores: {i + 1}\n")
    tree = converged(cl.nodes)
    for i, nd in enumerate(cl.nodes):
        expect(tree[f"nodes/{nd.name}/qemu-server/{100 + i}.conf"] == f"cores: {i + 1}\n".encode(),
               "a config written on one node reads the same on all")
    # a vmid is unique across the cluster, whichever node asks
    c = cl.nodes[2].client()
    try:
        c.write("nodes/node3/lxc/100.conf", "x")
        raise AssertionError("a second config of vmid 100 was accepted")
    except CfsError as e:
        expect(e.errno == EEXIST, f"vmid 100 on another node: {e}")
    finally:
        c.close()


@case
def concurrent_writers_converge(cl):
    errors = []

    def writer(nd):
        try:
            c = nd.client()
            for k in range(60):
                c.write(f"conc/{nd.name}-{k}", f"{nd.name} {k}")
                c.write("conc/shared.cfg", f"{nd.name} {k}")
            c.close()
        except Exception as e:  # reported below
            errors.append(e)

    threads = [threading.Thread(target=writer, args=(nd,)) for nd in cl.nodes]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    expect(not errors, f"writers failed: {errors}")
    tree = converged(cl.nodes)
    expect(sum(1 for p in tree if p.startswith("conc/node")) == 60 * len(cl.nodes),
           "every acknowledged write is there")


@case
def fuse_read_and_write(cl):
    n1, n2, n3 = cl.nodes
    with open(os.path.join(n1.mnt, "nodes/node1/qemu-server/100.conf"), "rb") as f:
        expect(f.read() == b"cores: 1\n", "cat through the mount")
    with open(os.path.join(n1.mnt, "qemu-server/100.conf"), "rb") as f:
        expect(f.read() == b"cores: 1\n", "the qemu-server link points at this node")
    with open(os.path.join(n2.mnt, "storage.cfg"), "w") as f:
        f.write("dir: local\n\tpath /var/lib/vz\n")
    converged(cl.nodes)
    expect(read_on(n3, "storage.cfg") == b"dir: local\n\tpath /var/lib/vz\n",
           "a write through node2's mount is read on node3")
    st = os.stat(os.path.join(n1.mnt, "priv"))
    expect(st.st_mode & 0o777 == 0o700, f"priv/ is 0700, not {oct(st.st_mode)}")
    with open(os.path.join(n2.mnt, ".members")) as f:
        mb = json.load(f)
    expect(mb["nodename"] == "node2" and mb["cluster"]["quorate"] == 1
           and mb["cluster"]["nodes"] == 3, f".members: {mb}")
    expect(all(mb["nodelist"][nd.name] == {"id": nd.i, "online": 1, "ip": nd.ip} for nd in cl.nodes),
           f".members lists every node with its address: {mb['nodelist']}")
    with open(os.path.join(n1.mnt, ".vmlist")) as f:
        vl = f.read()
    expect('"100"' in vl and '"node1"' in vl, f".vmlist lists the guests: {vl}")


@case
def volatile_status(cl):
    n1, n2, n3 = cl.nodes
    c = n1.client()
    try:
        c.call("SET_STATUS", "static-info", data=b'{"cpus":2}' + b"\xfe-status-marker")
    finally:
        c.close()
    end = time.monotonic() + 5
    for nd in (n2, n3):
        while True:
            c = nd.client()
            try:
                got = c.call("GET_STATUS", "node1", "static-info")
                break
            except CfsError:
                expect(time.monotonic() < end, f"{nd.name} never heard node1's status")
                time.sleep(0.05)
            finally:
                c.close()
        expect(got.startswith(b'{"cpus":2}'), f"{nd.name} reads node1's status: {got!r}")
    for nd in cl.nodes:
        with open(nd.db, "rb") as f:
            expect(b"status-marker" not in f.read(), "status never goes to the database")


@case
def lose_one_node_rest_writable(cl):
    n1, n2, n3 = cl.nodes
    t0 = time.monotonic()
    n3.stop_pvecfs(signal.SIGKILL)
    n3.stop_corosync(signal.SIGKILL)
    # the survivors are quorate and take writes (after corosync notices, about 1 s here)
    n1.write_retry("after-loss", "1", timeout=15)
    took = time.monotonic() - t0
    print(f"# loss of a node to a write acknowledged on the survivors: {took:.2f} s", flush=True)
    # (the other survivor applies the change when its corosync delivers it, a moment after the
    # writer's own delivery: converged() waits for that)
    expect(converged([n1, n2]).get("after-loss") == b"1", "survivors agree")
    rejoin(cl, n3)
    tree = converged(cl.nodes)
    expect(tree.get("after-loss") == b"1", "the returning node got what it missed")


@case
def two_down_read_only(cl):
    n1, n2, n3 = cl.nodes
    for nd in (n2, n3):
        nd.stop_pvecfs(signal.SIGKILL)
        nd.stop_corosync(signal.SIGKILL)
    # (a write in the second before corosync notices is still taken, as in pmxcfs: quorum is
    # checked where a change is asked)
    expect_refused(n1, "lonely", EACCES)
    expect_refused(n1, "refused", EACCES, timeout=0)
    expect(read_on(n1, "after-loss") == b"1", "reads still work without quorum")
    mode = os.stat(os.path.join(n1.mnt, "storage.cfg")).st_mode & 0o777
    expect(mode & 0o222 == 0, f"the mount shows no write bits without quorum ({oct(mode)})")
    for nd in (n2, n3):
        nd.start_corosync()
    cl.wait_quorate()
    for nd in (n2, n3):
        nd.start_pvecfs()
    n1.write_retry("quorate-again", "1")
    tree = converged(cl.nodes)
    expect("refused" not in tree, "a refused write left nothing")


@case
def partition_heals(cl):
    n1, n2, n3 = cl.nodes
    cfslib.sh("ip", "-n", n3.ns, "link", "set", "eth0", "down")
    try:
        expect_refused(n3, "minority", EACCES)
        expect_refused(n3, "refused", EACCES, timeout=0)
        acked = []
        for k in range(20):
            n1.write_retry(f"majority/{k}", str(k))
            acked.append(f"majority/{k}")
    finally:
        cfslib.sh("ip", "-n", n3.ns, "link", "set", "eth0", "up")
    cl.wait_quorate()
    tree = converged(cl.nodes, timeout=20)
    for p in acked:
        expect(p in tree, f"an acknowledged write was lost: {p}")
    expect("refused" not in tree, "the minority's refused write is nowhere")


@case
def kill9_pvecfs_mid_stream(cl):
    n1, n2, n3 = cl.nodes
    acked = []
    stop = threading.Event()

    def stream():
        c = n2.client()
        k = 0
        try:
            while not stop.is_set():
                c.write(f"stream/{k}", "x" * 1024)
                acked.append(f"stream/{k}")
                k += 1
        except (CfsError, OSError):
            pass

    t = threading.Thread(target=stream)
    t.start()
    time.sleep(0.5)
    n2.stop_pvecfs(signal.SIGKILL)
    stop.set()
    t.join()
    expect(len(acked) > 10, f"the stream wrote {len(acked)} files before the kill")
    expect(db_ok(n2.db), "the killed node's database passes SQLite's integrity check")
    # the rest go on while it is down, then it comes back and catches up
    n1.write_retry("while-n2-down", "1")
    n2.start_pvecfs()
    tree = converged(cl.nodes)
    for p in acked:
        expect(p in tree, f"an acknowledged write was lost: {p}")
    expect(tree.get("while-n2-down") == b"1", "the restarted node resynced")


@case
def restart_all_keeps_state(cl):
    before = converged(cl.nodes)
    for nd in cl.nodes:
        nd.stop_pvecfs()
    for nd in cl.nodes:
        nd.stop_corosync()
    for nd in cl.nodes:
        expect(db_ok(nd.db), f"{nd.name}: database consistent after a stop")
        nd.start_corosync()
    cl.wait_quorate()
    for nd in cl.nodes:
        nd.start_pvecfs()
    after = converged(cl.nodes)
    expect(after == before, "the tree is the same after all nodes restarted")
    cl.nodes[0].write_retry("after-restart", "1")


def main():
    return cfslib.cluster_main(3)


if __name__ == "__main__":
    sys.exit(main())
