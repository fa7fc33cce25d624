"""/cluster/config on a node on its own (plain files), with a corosync.conf the test writes into etc/pve
(and a hex authkey into etc/corosync/authkey) to stand for a cluster of two: the index, the API version,
nodes, totem, qdevice and the join information (fingerprints of the nodes' certificates, the file's
digest); addnode (the file changes, config_version bumps, a name, address or nodeid in use is a 400
naming the parameter and changes nothing, the authkey in the answer; a second link; a binary key
refused), delnode (never this node); the reads refused without Sys.Audit and the edits without
Sys.Modify on /; pved --check on the file; and without a cluster Proxmox's answers. Needs root."""

import hashlib
import json
import os
import shutil
import ssl
import subprocess
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from pvetest import BIN, case, expect, node_main  # noqa: E402

AUTHKEY = "3f" * 64 + "\n"


def conf_text(name):
    return f"""logging {{
  debug: off
  to_syslog: yes
}}

nodelist {{
  node {{
    name: {name}
    nodeid: 1
    quorum_votes: 1
    ring0_addr: 10.7.0.1
  }}
  node {{
    name: zpve2
    nodeid: 2
    quorum_votes: 1
    ring0_addr: 10.7.0.2
  }}
}}

quorum {{
  provider: corosync_votequorum
}}

totem {{
  cluster_name: lab
  config_version: 4
  interface {{
    linknumber: 0
  }}
  ip_version: ipv4-6
  link_mode: passive
  secauth: on
  version: 2
}}

"""


class Cluster:
    """The files that make the node one of a cluster, removed again when the case ends."""

    def __init__(self, n):
        self.n = n

    def __enter__(self):
        n = self.n
        with open(n.path("etc/pve/corosync.conf"), "w") as f:
            f.write(conf_text(n.name))
        os.makedirs(n.path("etc/corosync"), exist_ok=True)
        with open(n.path("etc/corosync/authkey"), "w") as f:
            f.write(AUTHKEY)
        # the second node's certificate: a copy of this node's
        os.makedirs(n.path("etc/pve/nodes/zpve2"), exist_ok=True)
        shutil.copy(n.path(f"etc/pve/nodes/{n.name}/pve-ssl.pem"),
                    n.path("etc/pve/nodes/zpve2/pve-ssl.pem"))
        return self

    def __exit__(self, *exc):
        n = self.n
        for p in ("etc/pve/corosync.conf", "etc/corosync/authkey"):
            if os.path.exists(n.path(p)):
                os.unlink(n.path(p))
        shutil.rmtree(n.path("etc/pve/nodes/zpve2"), ignore_errors=True)


def text(n):
    with open(n.path("etc/pve/corosync.conf")) as f:
        return f.read()


def root(n, method, path, params=None):
    return n.local_call(method, "/cluster/config" + path, params or {})


@case
def index_and_apiversion(n):
    r = n.get("/cluster/config")
    expect(r.status == 200 and [x["name"] for x in r.data] ==
           ["nodes", "totem", "join", "qdevice", "apiversion"], r)
    r = n.get("/cluster/config/apiversion")
    expect(r.status == 200 and r.data == 1, r)
    expect("config" in [x["name"] for x in n.get("/cluster").data], "config not in /cluster's index")


@case
def no_cluster(n):
    expect(not os.path.exists(n.path("etc/pve/corosync.conf")), "a corosync.conf exists")
    r = n.get("/cluster/config/nodes")
    expect(r.status == 200 and r.data == [], r)
    r = n.get("/cluster/config/totem")
    expect(r.status == 200 and r.data == {}, r)
    r = n.get("/cluster/config/qdevice")
    expect(r.status == 200 and r.data == {}, r)
    r = n.get("/cluster/config/join")
    expect(r.status == 424 and r.reason == "node is not in a cluster, no join info available!", r)
    status, data = root(n, "DELETE", "/nodes/other")
    expect(status == 404 and "Node/IP: other is not a known host of the cluster." in json.dumps(data),
           (status, data))
    status, data = root(n, "POST", "/nodes/other", {"link0": "10.7.0.9"})
    expect(status == 500, (status, data))
    expect(not os.path.exists(n.path("etc/pve/corosync.conf")), "a refused addnode wrote the file")


@case
def reads(n):
    with Cluster(n):
        r = n.get("/cluster/config/nodes")
        expect(r.status == 200, r)
        nodes = {x["node"]: x for x in r.data}
        expect(set(nodes) == {n.name, "zpve2"}, r.data)
        expect(nodes["zpve2"] == {"node": "zpve2", "name": "zpve2", "nodeid": "2",
                                  "quorum_votes": "1", "ring0_addr": "10.7.0.2"}, nodes)
        r = n.get("/cluster/config/totem")
        expect(r.data == {"cluster_name": "lab", "config_version": "4",
                          "interface": {"0": {"linknumber": "0"}}, "ip_version": "ipv4-6",
                          "link_mode": "passive", "secauth": "on", "version": "2"}, r.data)
        expect(n.get("/cluster/config/qdevice").data == {}, "qdevice")

        r = n.get("/cluster/config/join")
        expect(r.status == 200, r)
        d = r.data
        digest = hashlib.sha1(text(n).encode()).hexdigest()
        expect(d["config_digest"] == digest and d["preferred_node"] == n.name, d)
        expect(d["totem"]["cluster_name"] == "lab", d)
        with open(n.path(f"etc/pve/nodes/{n.name}/pve-ssl.pem")) as f:
            der = ssl.PEM_cert_to_DER_cert(f.read())
        want = ":".join(f"{b:02X}" for b in hashlib.sha256(der).digest())
        byname = {x["name"]: x for x in d["nodelist"]}
        expect(byname["zpve2"]["pve_addr"] == "10.7.0.2" and byname["zpve2"]["nodeid"] == "2", d)
        expect(byname[n.name]["pve_fp"] == want and byname["zpve2"]["pve_fp"] == want,
               (want, byname))
        r = n.get("/cluster/config/join", {"node": "zpve2"})
        expect(r.status == 200 and r.data["preferred_node"] == "zpve2", r)
        r = n.get("/cluster/config/join", {"node": "nosuch"})
        expect(r.status == 404 and r.reason == "unknown node 'nosuch'", r)


@case
def addnode_and_delnode(n):
    with Cluster(n):
        status, data = root(n, "POST", "/nodes/zpve3", {"link0": "10.7.0.3", "apiversion": 1})
        expect(status == 200, (status, data))
        d = data["data"]
        expect(d["corosync_authkey"] == AUTHKEY and d["warnings"] == [], d)
        t = text(n)
        expect(d["corosync_conf"] == t, (d["corosync_conf"], t))
        expect("config_version: 5\n" in t, t)
        expect("  node {\n    name: zpve3\n    nodeid: 3\n    quorum_votes: 1\n"
               "    ring0_addr: 10.7.0.3\n  }\n" in t, t)
        expect(len(n.get("/cluster/config/nodes").data) == 3, "not three nodes")

        # in use: name, address, nodeid; each a 400 naming the parameter, the file unchanged
        before = text(n)
        for params, node, bad in (({"link0": "10.7.0.4", "apiversion": 1}, "zpve3", "node"),
                                  ({"link0": "10.7.0.2", "apiversion": 1}, "zpve4", "link0"),
                                  ({"new_node_ip": "10.7.0.2", "apiversion": 1}, "zpve4",
                                   "new_node_ip"),
                                  ({"link0": "10.7.0.4", "nodeid": 2, "apiversion": 1}, "zpve4",
                                   "nodeid"),
                                  ({"link0": "10.7.0.4", "link1": "10.8.0.4", "apiversion": 1},
                                   "zpve4", "link1"),
                                  ({"link0": "10.7.0.4", "apiversion": -1}, "zpve4", "apiversion"),
                                  ({"link0": "10.7.0.4", "nodeid": 1 << 40}, "zpve4", "nodeid")):
            status, data = root(n, "POST", f"/nodes/{node}", params)
            expect(status == 400 and bad in (data.get("errors") or {}), (params, status, data))
            expect(text(n) == before, f"{params}: a refused addnode changed corosync.conf")
        # force re-adds a node of the same id and votes with its new address
        status, data = root(n, "POST", "/nodes/zpve3",
                            {"link0": "10.7.0.33", "force": 1, "apiversion": 1})
        expect(status == 200 and "ring0_addr: 10.7.0.33\n" in text(n), (status, data))
        expect("config_version: 6\n" in text(n), text(n))
        # a joiner of API version 0 (none given) with one link: that link is its fallback address
        status, data = root(n, "POST", "/nodes/zpve5", {"link0": "10.7.0.5"})
        expect(status == 200 and "ring0_addr: 10.7.0.5\n" in text(n), (status, data))
        status, data = root(n, "DELETE", "/nodes/zpve5")
        expect(status == 200 and "zpve5" not in text(n), (status, data))
        # new_node_ip stands for the cluster's one link
        status, data = root(n, "POST", "/nodes/zpve4", {"new_node_ip": "10.7.0.4", "apiversion": 1})
        expect(status == 200 and "ring0_addr: 10.7.0.4\n" in text(n), (status, data))

        status, data = root(n, "DELETE", f"/nodes/{n.name}")
        expect(status == 400 and "Cannot delete myself from cluster!" in json.dumps(data),
               (status, data))
        status, data = root(n, "DELETE", "/nodes/zpve3")
        expect(status == 200 and data["data"] is None, (status, data))
        t = text(n)
        expect("zpve3" not in t and "config_version: 10\n" in t, t)
        status, data = root(n, "DELETE", "/nodes/zpve3")
        expect(status == 404, (status, data))


@case
def two_links(n):
    with Cluster(n):
        t = text(n)
        for i in (1, 2):
            t = t.replace(f"    ring0_addr: 10.7.0.{i}\n",
                          f"    ring0_addr: 10.7.0.{i}\n    ring1_addr: 10.8.0.{i}\n")
        t = t.replace("    linknumber: 0\n  }\n",
                      "    linknumber: 0\n  }\n  interface {\n    linknumber: 1\n  }\n")
        with open(n.path("etc/pve/corosync.conf"), "w") as f:
            f.write(t)
        for params, bad in (({"new_node_ip": "10.7.0.3", "apiversion": 1}, "new_node_ip"),
                            ({"link0": "10.7.0.3", "apiversion": 1}, "link1"),
                            ({"link0": "10.7.0.3"}, "link0")):
            status, data = root(n, "POST", "/nodes/zpve3", params)
            expect(status == 400 and bad in (data.get("errors") or {}), (params, status, data))
            expect(text(n) == t, "a refused addnode changed corosync.conf")
        status, data = root(n, "POST", "/nodes/zpve3",
                            {"link0": "10.7.0.3", "link1": "address=10.8.0.3,priority=5",
                             "apiversion": 1})
        expect(status == 200, (status, data))
        expect("    ring0_addr: 10.7.0.3\n    ring1_addr: 10.8.0.3\n" in text(n), text(n))


@case
def authkey_must_be_text(n):
    with Cluster(n):
        with open(n.path("etc/corosync/authkey"), "wb") as f:
            f.write(bytes(range(256)))
        before = text(n)
        status, data = root(n, "POST", "/nodes/zpve3", {"link0": "10.7.0.3", "apiversion": 1})
        expect(status == 500 and "not printable" in json.dumps(data), (status, data))
        expect(text(n) == before, "corosync.conf changed")


def user_ticket(n, userid, role=None):
    n.post("/access/users", {"userid": userid, "password": "cc-password-1"})
    if role:
        n.request("PUT", "/access/acl", {"path": "/", "users": userid, "roles": role})
    r = n.post("/access/ticket", {"username": userid, "password": "cc-password-1"}, ticket="")
    return r.data["ticket"], r.data["CSRFPreventionToken"]


@case
def permissions(n):
    with Cluster(n):
        try:
            none = user_ticket(n, "ccnone@pve")
            auditor = user_ticket(n, "ccaudit@pve", "PVEAuditor")
            for p in ("", "/nodes", "/totem", "/join", "/qdevice", "/apiversion"):
                r = n.get("/cluster/config" + p, ticket=none[0])
                expect(r.status == 403, f"{p}: {r!r}")
                r = n.get("/cluster/config" + p, ticket=auditor[0])
                expect(r.status == 200, f"{p}: {r!r}")
            before = text(n)
            # Sys.Modify on / edits (Proxmox: root@pam alone; pved's administrator is admin@pve)
            for ticket, csrf in (none, auditor):
                r = n.post("/cluster/config/nodes/zpve3", {"link0": "10.7.0.3"}, ticket=ticket,
                           csrf=csrf)
                expect(r.status == 403 and "Sys.Modify" in r.reason, r)
                r = n.request("DELETE", "/cluster/config/nodes/zpve2", ticket=ticket, csrf=csrf)
                expect(r.status == 403, r)
            expect(text(n) == before, "a refused user changed corosync.conf")
            # admin@pve, an Administrator, may
            r = n.post("/cluster/config/nodes/zpve3", {"link0": "10.7.0.3", "apiversion": 1})
            expect(r.status == 200 and r.data["corosync_conf"] == text(n), r)
            r = n.request("DELETE", "/cluster/config/nodes/zpve3")
            expect(r.status == 200 and "zpve3" not in text(n), r)
        finally:
            for u in ("ccnone@pve", "ccaudit@pve"):
                n.request("DELETE", f"/access/users/{u}")


@case
def check_mode(n):
    pved = [os.path.join(BIN, "pved"), "--root", n.root, "--check"]
    with Cluster(n):
        out = subprocess.run(pved, capture_output=True, text=True, timeout=20)
        expect(out.returncode == 0 and
               "corosync.conf: cluster 'lab', config_version 4, 2 nodes\n" in out.stdout, out)
        with open(n.path("etc/pve/corosync.conf"), "a") as f:
            f.write("totem {\n}\n")
        out = subprocess.run(pved, capture_output=True, text=True, timeout=20)
        expect(out.returncode == 1 and "corosync.conf: ERROR: line 37: section 'totem' already "
               "exists and not marked as array!" in out.stdout, out)


@case
def create_refused_in_a_cluster(n):
    with Cluster(n):
        before = text(n)
        status, data = root(n, "POST", "", {"clustername": "lab2"})
        expect(status != 200 and "already exists" in json.dumps(data), (status, data))
        expect(text(n) == before, "corosync.conf changed")


if __name__ == "__main__":
    sys.exit(node_main())
