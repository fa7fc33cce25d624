"""The node network through the API, applied inside a network namespace the test makes: pved gets
PVED_NETNS, so its netlink work (the srvreload task, the port checks, the list's links) acts there and
never on the host's links, while the API stays on the host's loopback. Edits go to interfaces.new and
leave interfaces (its comments and source lines) alone; PUT applies, DELETE reverts; bad changes are
refused with nothing written; proxmoxer drives the same calls. Runs as root; the namespace and pved are
removed by the test, also when it fails."""

import importlib
import json
import os
import subprocess
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from pvetest import Node, Skip, case, expect, run  # noqa: E402

NS = f"pvednet{os.getpid()}"
NODE = "netnode"
BASE = "/nodes/" + NODE + "/network"
INITIAL = ("# the host's own comment\n"
           "source /etc/network/interfaces.d/*\n"
           "\n"
           "auto lo\n"
           "iface lo inet loopback\n"
           "\n"
           "iface nt0b inet manual\n"
           "\tpre-up /bin/true   # an option pved does not know\n")


def ip(*args, check=True):
    r = subprocess.run(["ip", *args], capture_output=True, text=True)
    if check:
        expect(r.returncode == 0, f"ip {args}: {r.stderr}")
    return r


def link(name):
    r = ip("-n", NS, "-j", "-d", "link", "show", name, check=False)
    return json.loads(r.stdout)[0] if r.returncode == 0 and r.stdout.strip() else None


def addrs(name):
    r = ip("-n", NS, "-j", "addr", "show", name)
    return [f"{a['local']}/{a['prefixlen']}" for a in json.loads(r.stdout)[0].get("addr_info", [])
            if a.get("scope") != "link"]


def read(n, rel):
    try:
        with open(n.path(rel)) as f:
            return f.read()
    except FileNotFoundError:
        return None


def ok(r, what):
    expect(r.status == 200, f"{what}: {r}")
    return r.data


def apply(n):
    upid = ok(n.request("PUT", BASE), "apply")
    expect(":srvreload:networking:" in upid, upid)
    st = n.wait_task(upid)
    log = n.get(f"/nodes/{NODE}/tasks/{upid}/log", {"limit": 500}).data
    return st, "\n".join(line["t"] for line in log)


@case
def bridge_created_applied_changed_reverted_deleted(n):
    # a bridge into the pending copy: the file in force stays as it was
    ok(n.post(BASE, {"iface": "vmbr1", "type": "bridge", "cidr": "10.77.0.1/24", "autostart": 1,
                     "comments": "test bridge"}), "create")
    expect(read(n, "etc/network/interfaces") == INITIAL, "interfaces changed before the apply")
    pending = read(n, "etc/network/interfaces.new")
    expect(pending and pending.startswith(INITIAL), f"interfaces.new: {pending!r}")
    # Proxmox's order: the address first, then the bridge's settings, the comments last
    expect("auto vmbr1\niface vmbr1 inet static\n\taddress 10.77.0.1/24\n\tbridge-ports none\n"
           "\tbridge-stp off\n\tbridge-fd 0\n#test bridge\n" in pending, pending)
    r = n.get(BASE)
    lst = ok(r, "list")
    br = [i for i in lst if i["iface"] == "vmbr1"]
    expect(br and br[0]["type"] == "bridge" and br[0]["cidr"] == "10.77.0.1/24", lst)
    expect("+auto vmbr1" in r.json.get("changes", ""), r.json)
    one = ok(n.get(BASE + "/vmbr1"), "get vmbr1")
    expect(one["method"] == "static" and one["autostart"] == 1 and
           one["comments"] == "test bridge\n", one)
    expect(link("vmbr1") is None, "applied before PUT")

    # applied: the kernel has it, up, with its address; the pending copy is the file now
    st, log = apply(n)
    expect(st["exitstatus"] == "OK", f"{st} {log}")
    lk = link("vmbr1")
    expect(lk and lk["linkinfo"]["info_kind"] == "bridge" and "UP" in lk["flags"], lk)
    expect("10.77.0.1/24" in addrs("vmbr1"), addrs("vmbr1"))
    expect(read(n, "etc/network/interfaces.new") is None, "interfaces.new stayed")
    expect(read(n, "etc/network/interfaces") == pending, "interfaces is not the applied copy")
    # applying again changes nothing
    st, log = apply(n)
    expect(st["exitstatus"] == "OK" and "created" not in log and "address" not in log, log)

    # the MTU and a port the test made
    ok(n.request("PUT", BASE + "/vmbr1", {"type": "bridge", "mtu": 1400,
                                          "bridge_ports": "nt0a"}), "update")
    st, log = apply(n)
    expect(st["exitstatus"] == "OK", f"{st} {log}")
    expect(link("vmbr1")["mtu"] == 1400, link("vmbr1"))
    expect(link("nt0a").get("master") == "vmbr1", link("nt0a"))
    text = read(n, "etc/network/interfaces")
    expect("\tbridge-ports nt0a\n" in text and "\tmtu 1400\n" in text, text)
    expect(text.startswith(INITIAL), "the lines pved does not own changed")

    # a pending change reverted: nothing of it reaches the kernel
    ok(n.request("PUT", BASE + "/vmbr1", {"type": "bridge", "mtu": 1300}), "update")
    expect("mtu 1300" in read(n, "etc/network/interfaces.new"), "pending mtu")
    ok(n.request("DELETE", BASE), "revert")
    expect(read(n, "etc/network/interfaces.new") is None, "revert left interfaces.new")
    st, log = apply(n)
    expect(st["exitstatus"] == "OK" and link("vmbr1")["mtu"] == 1400, link("vmbr1"))

    # a gateway, then deleted with its address: both leave the kernel
    ok(n.request("PUT", BASE + "/vmbr1", {"type": "bridge", "gateway": "10.77.0.254"}), "gw")
    apply(n)
    r = ip("-n", NS, "-j", "route", "show", "default")
    expect(any(x.get("gateway") == "10.77.0.254" for x in json.loads(r.stdout)), r.stdout)
    ok(n.request("PUT", BASE + "/vmbr1", {"type": "bridge", "delete": "cidr,gateway"}), "delete")
    st, log = apply(n)
    expect(st["exitstatus"] == "OK" and addrs("vmbr1") == [], f"{addrs('vmbr1')} {log}")
    r = ip("-n", NS, "-j", "route", "show", "default")
    expect(json.loads(r.stdout) == [], r.stdout)
    expect("iface vmbr1 inet manual" in read(n, "etc/network/interfaces"), "method")

    # deleted: the link goes, its port stays
    ok(n.request("DELETE", BASE + "/vmbr1"), "delete vmbr1")
    st, log = apply(n)
    expect(st["exitstatus"] == "OK", f"{st} {log}")
    expect(link("vmbr1") is None, "vmbr1 stayed")
    expect(link("nt0a") and not link("nt0a").get("master"), link("nt0a"))
    expect(read(n, "etc/network/interfaces") == INITIAL, read(n, "etc/network/interfaces"))


@case
def bad_changes_refused_nothing_written(n):
    ok(n.post(BASE, {"iface": "vmbr2", "type": "bridge", "bridge_ports": "nt0a"}), "vmbr2")
    before = read(n, "etc/network/interfaces.new")
    bad = [
        ({"iface": "vmbr3", "type": "bridge", "bridge_ports": "nosuch0"}, "bridge_ports",
         "unable to find bridge port 'nosuch0'"),
        ({"iface": "vmbr3", "type": "bridge", "bridge_ports": "nt0a"}, "bridge_ports",
         "nt0a is already used on interface 'vmbr2'."),
        ({"iface": "vmbr3", "type": "bridge", "cidr": "10.1.2.3/40"}, "cidr", None),
        ({"iface": "vmbr3", "type": "OVSBridge"}, "type", "Open VSwitch"),
        ({"iface": "vmbr3", "type": "nosuchtype"}, "type", None),
        ({"iface": "vmbr2", "type": "bridge"}, "iface", "interface already exists"),
        ({"iface": "vmbr3", "type": "bridge", "cidr": "10.1.2.3/24", "address": "10.1.2.3",
          "netmask": "255.255.255.0"}, "address", "address conflicts with cidr"),
        ({"iface": "bond5", "type": "bond", "slaves": "nt0b",
          "bond_mode": "active-backup", "bond_xmit_hash_policy": "layer2"},
         "bond_xmit_hash_policy", None),
        ({"iface": "vmbr3", "type": "bridge", "address6": "ff02::1", "netmask6": 64},
         "address6", "cannot be used as host IPv6 address"),
    ]
    for params, param, msg in bad:
        r = n.post(BASE, params)
        expect(r.status == 400, f"{params}: {r}")
        errs = (r.json or {}).get("errors") or {}
        expect(param in errs, f"{params}: {r}")
        expect(msg is None or msg in errs[param], f"{params}: {errs}")
        expect(read(n, "etc/network/interfaces.new") == before, f"{params} wrote")
    r = n.request("PUT", BASE + "/nosuch9", {"type": "bridge", "mtu": 1500})
    expect(r.status == 400 and "iface" in r.json.get("errors", {}), r)
    r = n.get(BASE + "/nosuch9")
    expect(r.status == 400 and "interface does not exist" in r.json["errors"]["iface"], r)
    # a link of the kernel that is no NIC (a veth) and not in the file is no interface, as in Proxmox
    r = n.request("PUT", BASE + "/nt0a", {"type": "eth", "mtu": 1500})
    expect(r.status == 400 and "interface does not exist" in r.json["errors"]["iface"], r)
    r = n.get(BASE + "/nt0a")
    expect(r.status == 400 and "interface does not exist" in r.json["errors"]["iface"], r)
    ok(n.request("DELETE", BASE), "revert")
    expect(link("vmbr2") is None and link("vmbr3") is None, "applied")


@case
def kernel_refusal_reaches_the_task_and_keeps_it_pending(n):
    # a VLAN interface: this host's kernel has no 802.1q, so it is refused with the kernel's own
    # words (extended ack); with 802.1q it is created. Either way the truth is checked.
    ok(n.post(BASE, {"iface": "vmbr4", "type": "bridge"}), "vmbr4")
    ok(n.post(BASE, {"iface": "nt0b.50", "type": "vlan"}), "vlan")
    st, log = apply(n)
    print(f"# apply with a VLAN: {st['exitstatus']}")
    if st["exitstatus"] == "OK":
        lk = link("nt0b.50")
        expect(lk and lk["linkinfo"]["info_kind"] == "vlan", lk)
        ok(n.request("DELETE", BASE + "/nt0b.50"), "delete the VLAN")
        ok(n.request("DELETE", BASE + "/vmbr4"), "delete vmbr4")
    else:
        expect("creating vlan 'nt0b.50'" in st["exitstatus"] and
               "Unknown device type" in st["exitstatus"], st)
        expect(read(n, "etc/network/interfaces.new") is not None, "the change is not pending")
        expect(link("vmbr4") is None, "the part that was applied stayed")
        ok(n.request("DELETE", BASE), "revert")
    st, log = apply(n)
    expect(st["exitstatus"] == "OK" and link("vmbr4") is None and link("nt0b.50") is None, log)


@case
def type_filter_and_listing(n):
    ok(n.post(BASE, {"iface": "vmbr5", "type": "bridge"}), "vmbr5")
    lst = ok(n.get(BASE, {"type": "any_bridge"}), "any_bridge")
    expect([i["iface"] for i in lst] == ["vmbr5"], lst)
    lst = ok(n.get(BASE, {"type": "bridge"}), "bridge")
    expect([i["iface"] for i in lst] == ["vmbr5"], lst)
    lst = ok(n.get(BASE), "all")
    names = [i["iface"] for i in lst]
    expect("lo" not in names and "nt0b" in names and "vmbr5" in names, names)
    nt0b = [i for i in lst if i["iface"] == "nt0b"][0]
    expect(nt0b["options"] == ["pre-up /bin/true   # an option pved does not know"], nt0b)
    ok(n.request("DELETE", BASE), "revert")


@case
def proxmoxer_calls(n):
    try:
        proxmoxer = importlib.import_module("proxmoxer")
    except ImportError as e:
        raise Skip(f"python3-proxmoxer not importable: {e}")
    api = proxmoxer.ProxmoxAPI("127.0.0.1", port=n.port, user="admin@pve",
                               password=n.admin_password, verify_ssl=False)
    net = api.nodes(NODE).network
    try:
        net.post(iface="vmbr6", type="bridge", cidr="10.66.0.1/24", autostart=1)
    except proxmoxer.core.ResourceException as e:
        raise AssertionError(f"{e} {e.errors} {e.content}")
    expect(net("vmbr6").get()["cidr"] == "10.66.0.1/24", "get")
    net("vmbr6").put(type="bridge", mtu=1450)
    upid = net.put()
    st = n.wait_task(upid)
    expect(st["exitstatus"] == "OK" and link("vmbr6")["mtu"] == 1450, st)
    net("vmbr6").delete()
    n.wait_task(net.put())
    expect(link("vmbr6") is None, "vmbr6 stayed")
    try:
        net.post(iface="vmbr7", type="bridge", bridge_ports="nosuch1")
        raise AssertionError("a missing port was taken")
    except proxmoxer.core.ResourceException as e:
        # (proxmoxer 1.2 drops the "errors" object: the status and what was written tell)
        expect(e.status_code == 400, e)
        expect("vmbr7" not in (read(n, "etc/network/interfaces.new") or ""), "vmbr7 written")


def main():
    if os.geteuid() != 0:
        print("skip network: needs root")
        return 0
    r = subprocess.run(["ip", "netns", "add", NS], capture_output=True, text=True)
    if r.returncode != 0:
        print(f"skip network: no network namespace: {r.stderr.strip()}")
        return 0
    try:
        ip("-n", NS, "link", "add", "nt0a", "type", "veth", "peer", "name", "nt0b")
        ip("-n", NS, "link", "set", "lo", "up")
        os.environ["PVED_NETNS"] = f"/run/netns/{NS}"
        with Node(name=NODE) as n:
            os.makedirs(n.path("etc/network"), exist_ok=True)
            with open(n.path("etc/network/interfaces"), "w") as f:
                f.write(INITIAL)
            n.login()
            return run(n)
    finally:
        os.environ.pop("PVED_NETNS", None)
        subprocess.run(["ip", "netns", "delete", NS], capture_output=True)


if __name__ == "__main__":
    sys.exit(main())
