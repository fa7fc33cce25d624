#!/usr/bin/python3
# timeout: 300
"""/cluster/resources and /cluster/tasks of a whole cluster: three nodes (cfslib: corosync and pvecfs
per network namespace), one pved on each (--pvecfs=cluster on that pvecfs). A guest made on node3
shows on node1 with node node3; every node's entry is online; a user with VM.Audit on one VM sees only
it, without the pool it is in; node1's /cluster/tasks has a task that ran on node3; node2's pved
stopped: after its publication lapses (10 s) node2 is "unknown" and its guests "unknown", and with
node2's pvecfs gone too, node2 is "offline"."""

import os
import sys
import time
import traceback

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import cfslib  # noqa: E402
from cfslib import Skip  # noqa: E402

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "integration"))
import pvetest  # noqa: E402
from pvetest import expect  # noqa: E402

# pved publishes every 3 s; an entry older than 10 s counts as silent (daemon/cluster/resources.c)
LAPSE = 10


def resources(nd, **params):
    r = nd.get("/cluster/resources", params or None)
    expect(r.status == 200, f"{nd.name}: /cluster/resources: {r}")
    return {e["id"]: e for e in r.data}


def wait_for(what, fn, timeout=30):
    """fn() until it returns something true; its last value in the failure."""
    end = time.monotonic() + timeout
    while True:
        last = fn()
        if last:
            return last
        if time.monotonic() > end:
            raise AssertionError(f"{what} after {timeout} s: {last!r}")
        time.sleep(0.3)


def guest_on_node3(ctx):
    n1, n3 = ctx.nodes[0], ctx.nodes[2]
    r = n3.post("/nodes/node3/qemu", {"vmid": 301, "name": "on-three", "memory": 64})
    expect(r.status == 200, f"create a VM on node3: {r}")
    st = n3.wait_task(r.data, timeout=60)
    expect(st["exitstatus"] == "OK", f"the create task: {st}")
    ctx.create_upid = r.data
    # a guest config written straight into node3's tree is a guest as well
    with open(n3.path("etc/pve/nodes/node3/qemu-server/302.conf"), "w") as f:
        f.write("name: written\nmemory: 64\n")

    def seen():
        res = resources(n1, type="vm")
        e, w = res.get("qemu/301"), res.get("qemu/302")
        ok = e and e["node"] == "node3" and e.get("name") == "on-three" and \
            e["status"] == "stopped" and w and w["node"] == "node3" and w["status"] == "stopped"
        return ok and res
    res = wait_for("node1 sees node3's VMs with node3's status", seen, timeout=15)
    expect(all(e["type"] == "qemu" for e in res.values()), f"type=vm: only guests: {res}")


def nodes_online(ctx):
    for nd in ctx.nodes:
        def online():
            res = resources(nd)
            st = {n: res.get(f"node/{n}", {}).get("status") for n in ("node1", "node2", "node3")}
            return all(s == "online" for s in st.values()) and res
        res = wait_for(f"{nd.name}: every node online", online, timeout=15)
        for n in ("node1", "node2", "node3"):
            expect(res[f"node/{n}"].get("maxmem", 0) > 0, f"{nd.name}: figures of {n}: {res}")
        # each node's storages once per node, as Proxmox lists them (local is on every node)
        expect(all(f"storage/{n}/local" in res for n in ("node1", "node2", "node3")),
               f"{nd.name}: local of every node: {sorted(res)}")
        expect(all(e["type"] == "node" for e in resources(nd, type="node").values()),
               "type=node: only nodes")


def rrd_of_others(ctx):
    n1 = ctx.nodes[0]

    def lines():
        with open(n1.path("etc/pve/.rrd")) as f:
            got = dict(line.split(":", 1) for line in f.read().splitlines())
        want = ("pve-node-9.0/node2", "pve-storage-9.0/node2/local", "pve-vm-9.0/301")
        return all(k in got for k in want) and got
    got = wait_for("node1's .rrd has node2's and node3's lines", lines, timeout=30)
    # pvestatd's field counts: node 22, guest 22, storage 3 (after the key)
    for key, fields in (("pve-node-9.0/node2", 22), ("pve-vm-9.0/301", 22),
                        ("pve-storage-9.0/node2/local", 3)):
        expect(len(got[key].split(":")) == fields, f"{key}: {got[key]}")
    expect(got["pve-vm-9.0/301"].split(":")[1:3] == ["on-three", "stopped"], got["pve-vm-9.0/301"])


def audit_one_vm(ctx):
    n1, n3 = ctx.nodes[0], ctx.nodes[2]
    for params in ({"userid": "viewer@pve", "password": "viewer-pass-1"},):
        r = n1.post("/access/users", params)
        expect(r.status == 200, f"create a user: {r}")
    r = n1.request("PUT", "/access/acl", {"path": "/vms/301", "roles": "PVEAuditor",
                                           "users": "viewer@pve"})
    expect(r.status == 200, f"VM.Audit on /vms/301: {r}")
    # 301 in a pool: node3 publishes it with its pool, which the viewer may not audit
    r = n1.post("/pools", {"poolid": "p301"})
    expect(r.status == 200, f"create a pool: {r}")
    r = n1.request("PUT", "/pools", {"poolid": "p301", "vms": "301"})
    expect(r.status == 200, f"301 into the pool: {r}")
    wait_for("node1 shows node3's 301 in its pool",
             lambda: resources(n1).get("qemu/301", {}).get("pool") == "p301", 15)
    viewer = pvetest.Node.__new__(type(n1))
    viewer.__dict__.update(n1.__dict__)
    viewer.ticket = viewer.csrf = None

    def only_301():
        # user.cfg reaches every pved's permission table a moment after the write
        try:
            viewer.login(user="viewer@pve", password="viewer-pass-1")
        except AssertionError:
            return None
        res = resources(viewer)
        guests = sorted(i for i, e in res.items() if e["type"] in ("qemu", "lxc"))
        return guests == ["qemu/301"] and res
    res = wait_for("viewer sees only VM 301", only_301, timeout=15)
    expect("pool" not in res["qemu/301"] and res["qemu/301"]["status"] == "stopped",
           f"301 without the pool the viewer may not audit: {res['qemu/301']}")
    # nodes are listed for everyone, their figures only with Sys.Audit on them
    expect(all(f"node/{n}" in res and "maxmem" not in res[f"node/{n}"]
               for n in ("node1", "node2", "node3")), f"nodes without figures: {res}")
    expect(not any(e["type"] == "storage" for e in res.values()), f"no storage: {res}")
    r = viewer.get("/cluster/tasks")
    expect(r.status == 200 and r.data == [], f"viewer sees no other user's task: {r}")
    ctx.viewer = viewer


def tasks_of_node3(ctx):
    n1 = ctx.nodes[0]

    def listed():
        r = n1.get("/cluster/tasks")
        expect(r.status == 200, f"/cluster/tasks: {r}")
        return any(t["upid"] == ctx.create_upid for t in r.data) and r.data
    tasks = wait_for("node1's /cluster/tasks shows node3's qmcreate", listed, timeout=15)
    t = next(t for t in tasks if t["upid"] == ctx.create_upid)
    expect(t["node"] == "node3" and t["type"] == "qmcreate" and t["status"] == "OK", f"{t}")
    starts = [t["starttime"] for t in tasks]
    expect(starts == sorted(starts, reverse=True), f"newest first: {starts}")


def node2_stopped(ctx):
    n1, n2 = ctx.nodes[0], ctx.nodes[1]
    # a guest on node2, so that there is one to turn unknown
    r = n2.post("/nodes/node2/qemu", {"vmid": 201, "name": "on-two", "memory": 64})
    expect(r.status == 200 and n2.wait_task(r.data, 60)["exitstatus"] == "OK", f"{r}")
    wait_for("node2's VM seen on node1",
             lambda: resources(n1).get("qemu/201", {}).get("status") == "stopped", 15)
    n2.stop()
    stopped = time.monotonic()

    def lapsed():
        res = resources(n1)
        return res["node/node2"]["status"] == "unknown" and \
            res["qemu/201"]["status"] == "unknown" and res
    res = wait_for("node2 unknown after its pved stopped", lapsed, timeout=LAPSE + 10)
    took = time.monotonic() - stopped
    expect(took > 3, f"not before its last publication lapsed ({took:.1f} s)")
    expect(res["node/node1"]["status"] == "online" and res["node/node3"]["status"] == "online",
           f"the others stay online: {res}")
    expect("name" not in res["qemu/201"] and res["qemu/201"]["node"] == "node2",
           f"an unknown guest as Proxmox lists it: {res['qemu/201']}")
    expect(res["storage/node2/local"]["status"] == "unknown", f"{res['storage/node2/local']}")
    # node2's pvecfs leaves the cluster: offline
    ctx.cl.nodes[1].stop_pvecfs()
    wait_for("node2 offline without its pvecfs",
             lambda: resources(n1)["node/node2"]["status"] == "offline", 15)


STEPS = [guest_on_node3, nodes_online, rrd_of_others, audit_one_vm, tasks_of_node3, node2_stopped]


class Ctx:
    pass


def main():
    failed = 0
    try:
        with cfslib.Cluster(3, host_ip=True) as cl:
            ctx = Ctx()
            ctx.cl = cl
            ctx.nodes = [cfslib.PvedNode(nn) for nn in cl.nodes]
            try:
                # node1 first: it writes the keys, the CA and user.cfg into the shared tree
                ctx.nodes[0].start(timeout=60)
                for nd in ctx.nodes[1:]:
                    nd.start(timeout=60)
                for nd in ctx.nodes:
                    nd.login()
                for fn in STEPS:
                    try:
                        fn(ctx)
                        print(f"ok {fn.__name__}")
                    except AssertionError as e:
                        failed += 1
                        print(f"FAIL {fn.__name__}: {e}")
                        traceback.print_exc()
            finally:
                for nd in ctx.nodes:
                    nd.stop()
                if failed:
                    for nd in ctx.nodes:
                        print(f"--- {nd.name} log ---\n{nd.logtext()[-3000:]}")
    except Skip as e:
        print(f"skip: {e}")
        return 0
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
