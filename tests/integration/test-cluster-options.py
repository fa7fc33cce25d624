"""GET and PUT /cluster/options: datacenter.cfg as Proxmox's datacenter options. Values are written to the
file (property strings canonical, the description as # lines) and answered typed: a property string
as an object, integers and booleans as numbers. delete removes keys; bad values are a 400 naming the
parameter with the file unchanged; a user without Sys.Audit sees only console and tag-style, one
without Sys.Modify changes nothing. GET /cluster/nextid takes its range from next-id, and a new NIC's
MAC address starts with mac_prefix, and a clone or disk move takes its bandwidth limit from the
storages' and datacenter.cfg's bwlimit. GET /cluster/status of a node on its own. Needs root."""

import json
import os
import subprocess
import sys
import urllib.parse

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from pvetest import case, expect, node_main  # noqa: E402

P = "/cluster/options"


def put(n, params):
    return n.request("PUT", P, params)


def dc_text(n):
    try:
        with open(n.path("etc/pve/datacenter.cfg")) as f:
            return f.read()
    except FileNotFoundError:
        return None


@case
def set_and_read_back(n):
    r = put(n, {"keyboard": "de", "next-id": "upper=300,lower=200", "max_workers": "3",
                "migration": "insecure,network=10.9.0.0/16", "migration_unsecure": "true",
                "tag-style": "shape=dense,ordering=config", "description": "first line\nsecond: 100%",
                "registered-tags": "prod;db", "user-tag-access": "user-allow=list,user-allow-list=web"})
    expect(r.status == 200, r)
    d = n.get(P).data
    expect(d["keyboard"] == "de" and d["max_workers"] == 3 and d["migration_unsecure"] == 1, d)
    expect(d["next-id"] == {"lower": 200, "upper": 300}, d)
    expect(d["migration"] == {"type": "insecure", "network": "10.9.0.0/16"}, d)
    expect(d["tag-style"] == {"shape": "dense", "ordering": "config"}, d)
    expect(d["description"] == "first line\nsecond: 100%", d)
    # admin@pve is an Administrator: the registered tags and the user list
    expect(d["allowed-tags"] == ["db", "prod", "web"], d)
    text = dc_text(n)
    for line in ("keyboard: de\n", "next-id: lower=200,upper=300\n", "max_workers: 3\n",
                 "migration: insecure,network=10.9.0.0/16\n", "migration_unsecure: 1\n",
                 "#first line\n", "#second: 100%25\n"):
        expect(line in text, f"{line!r} not in {text!r}")


@case
def nextid_from_the_range(n):
    put(n, {"next-id": "lower=200,upper=203"})
    expect(n.get("/cluster/nextid").data == "200", "not the range's first id")
    conf = n.path(f"etc/pve/nodes/{n.name}/qemu-server")
    os.makedirs(conf, exist_ok=True)
    try:
        for vmid in (200, 201, 202):
            with open(os.path.join(conf, f"{vmid}.conf"), "w") as f:
                f.write("memory: 128\n")
        r = n.get("/cluster/nextid")
        expect(r.status == 500 and r.reason == "unable to get any free VMID in range [200, 203]", r)
    finally:
        for vmid in (200, 201, 202):
            os.unlink(os.path.join(conf, f"{vmid}.conf"))
    put(n, {"delete": "next-id"})
    expect(n.get("/cluster/nextid").data == "100", "not 100 without a range")


@case
def bad_values_change_nothing(n):
    put(n, {"keyboard": "fr"})
    before = dc_text(n)
    for params, bad in (({"keyboard": "xx"}, "keyboard"), ({"next-id": "lower=five"}, "next-id"),
                        ({"max_workers": "0"}, "max_workers"), ({"console": "html5", "nope": "1"}, "nope"),
                        ({"mac_prefix": "zz:zz"}, "mac_prefix"), ({"delete": "keyboard,bogus"}, "delete"),
                        ({"http_proxy": "ftp://x"}, "http_proxy")):
        r = put(n, params)
        body = json.loads(r.body)
        expect(r.status == 400 and bad in (body.get("errors") or {}), f"{params}: {r!r}")
    expect(dc_text(n) == before, "a refused change touched datacenter.cfg")


@case
def delete_keys(n):
    put(n, {"keyboard": "it", "console": "xtermjs", "description": "notes"})
    expect(put(n, {"delete": "keyboard,description", "language": "en"}).status == 200, "delete")
    d = n.get(P).data
    expect("keyboard" not in d and "description" not in d and d["console"] == "xtermjs" and
           d["language"] == "en", d)
    text = dc_text(n)
    expect("keyboard:" not in text and "#notes" not in text, text)


@case
def permissions(n):
    put(n, {"console": "html5", "keyboard": "de", "tag-style": "shape=full"})
    expect(n.post("/access/users", {"userid": "opt@pve", "password": "opt-password-1"}).status == 200,
           "user")
    expect(n.request("PUT", "/access/acl", {"path": "/vms", "users": "opt@pve",
                                           "roles": "PVEVMUser"}).status == 200, "acl")
    r = n.post("/access/ticket", {"username": "opt@pve", "password": "opt-password-1"}, ticket="")
    ticket, csrf = r.data["ticket"], r.data["CSRFPreventionToken"]
    d = n.get(P, ticket=ticket).data
    expect(set(d) == {"console", "tag-style", "allowed-tags"} and d["console"] == "html5", d)
    r = n.request("PUT", P, {"keyboard": "fr"}, ticket=ticket, csrf=csrf)
    expect(r.status == 403, r)
    expect("keyboard: de\n" in dc_text(n), "a refused user changed the file")


@case
def cluster_status_standalone(n):
    # A node on its own: one entry, itself, its address from its hosts file (not a loopback one).
    os.makedirs(n.path("etc"), exist_ok=True)
    with open(n.path("etc/hosts"), "w") as f:
        f.write(f"127.0.1.1 {n.name}\n10.1.2.3 {n.name}.example.org {n.name} # the node\n")
    try:
        r = n.get("/cluster/status")
        expect(r.status == 200 and r.data == [{"type": "node", "id": f"node/{n.name}", "name": n.name,
                                               "nodeid": 0, "local": 1, "online": 1,
                                               "ip": "10.1.2.3", "level": ""}], r)
    finally:
        os.unlink(n.path("etc/hosts"))
    r = n.get("/cluster/status")
    expect(r.status == 200 and "ip" not in r.data[0], r)


@case
def mac_prefix_for_new_nics(n):
    bridge = f"dcbr{os.getpid() % 100000}"
    subprocess.run(["ip", "link", "add", bridge, "type", "bridge"], check=True)
    try:
        expect(put(n, {"mac_prefix": "0a:5c:e"}).status == 400, "a prefix ending in half a byte")
        expect(put(n, {"mac_prefix": "0a:5c"}).status == 200, "mac_prefix")
        r = n.post(f"/nodes/{n.name}/qemu", {"vmid": 151, "net0": f"virtio,bridge={bridge}"})
        expect(r.status == 200, r)
        n.wait_task(r.data)
        net0 = n.get(f"/nodes/{n.name}/qemu/151/config").data["net0"]
        expect(net0.startswith("virtio=0A:5C:") and f"bridge={bridge}" in net0, net0)
        put(n, {"delete": "mac_prefix"})
        r = n.request("PUT", f"/nodes/{n.name}/qemu/151/config", {"net1": f"e1000,bridge={bridge}"})
        expect(r.status == 200, r)
        net1 = n.get(f"/nodes/{n.name}/qemu/151/config").data["net1"]
        expect(net1.startswith("e1000=BC:24:11:"), f"without mac_prefix: {net1}")
        n.wait_task(n.request("DELETE", f"/nodes/{n.name}/qemu/151").data)
    finally:
        subprocess.run(["ip", "link", "del", bridge], capture_output=True)


def task_log(n, upid):
    n.wait_task(upid, timeout=120)
    q = urllib.parse.quote(upid, safe="")
    return "\n".join(x["t"] for x in n.get(f"/nodes/{n.name}/tasks/{q}/log", {"limit": 500}).data)


@case
def bwlimit_defaults(n):
    # Proxmox's get_bandwidth_limit: each storage's (its operation's limit, else its default), and
    # datacenter.cfg's where a storage has none; the smallest holds; a caller with Sys.Modify on /
    # may give another (0: none), anyone may lower it.
    r = n.post(f"/nodes/{n.name}/qemu", {"vmid": 170, "scsi0": "local:0.01,format=raw"})
    expect(r.status == 200, r)
    n.wait_task(r.data)
    try:
        put(n, {"bwlimit": "clone=900000,default=800000"})
        log = task_log(n, n.post(f"/nodes/{n.name}/qemu/170/clone", {"newid": 171, "full": 1}).data)
        expect("scsi0: bandwidth limit: 900000 KiB/s" in log, log)
        expect(n.request("PUT", "/storage/local", {"bwlimit": "clone=700000"}).status == 200, "bw")
        log = task_log(n, n.post(f"/nodes/{n.name}/qemu/170/clone", {"newid": 172, "full": 1}).data)
        expect("scsi0: bandwidth limit: 700000 KiB/s" in log, log)
        log = task_log(n, n.post(f"/nodes/{n.name}/qemu/170/clone",
                                 {"newid": 173, "full": 1, "bwlimit": 600000}).data)
        expect("scsi0: bandwidth limit: 600000 KiB/s" in log, log)
        log = task_log(n, n.post(f"/nodes/{n.name}/qemu/170/clone",
                                 {"newid": 174, "full": 1, "bwlimit": 0}).data)
        expect("bandwidth limit" not in log, log)
        # a move: the storage has no move limit, so datacenter.cfg's default counts too
        log = task_log(n, n.post(f"/nodes/{n.name}/qemu/171/move_disk",
                                 {"disk": "scsi0", "storage": "local", "format": "qcow2"}).data)
        expect("scsi0: bandwidth limit: 800000 KiB/s" in log, log)
    finally:
        n.request("PUT", "/storage/local", {"delete": "bwlimit"})
        put(n, {"delete": "bwlimit"})
        for vmid in (174, 173, 172, 171, 170):
            r = n.request("DELETE", f"/nodes/{n.name}/qemu/{vmid}")
            if r.status == 200:
                n.wait_task(r.data)


if __name__ == "__main__":
    sys.exit(node_main())
