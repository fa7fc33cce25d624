"""The firewall in network namespaces the test makes: a "host" namespace where pved runs and routes, and
two "guests" (namespaces whose veths are the host's tap100i0 and tap101i0, as VM NICs with firewall=1).
Rules are set through the API (pvectl over pved's socket, which crosses namespaces); traffic between the
namespaces is allowed and dropped exactly as the rules say: TCP, UDP, ICMP, IPv4 and IPv6, macros,
aliases, ipsets with nomatch, groups, default policies, forward rules, host rules, ipfilter and
macfilter against spoofing. Bad input is a 400 naming the parameter with nothing changed; a ruleset
the compiler refuses leaves the previous one in force and the API says why; a guest whose tap
goes and comes back keeps its rules. Runs as root; namespaces,
processes and files are removed by the test, also when it fails."""

import json
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from pvetest import BIN, Skip, case, expect, free_port, run  # noqa: E402

PY = "/usr/bin/python3"
# The guests here are routed taps, which only the inet table's rules see: pved and pvectl keep the
# guests' rules there also on a kernel with bridge conntrack (the lab's lab-firewall-bridge.sh tests
# the bridge table with guests on one bridge).
os.environ["PVED_FW_GUEST_TABLE"] = "inet"
TAG = f"{os.getpid() % 100000}"
HOST, G100, G101 = f"fwh{TAG}", f"fwa{TAG}", f"fwb{TAG}"
NODE = "fwnode"
state = {}

SERVER = r"""
import socket, sys, threading
def tcp(port, fam, addr):
    s = socket.socket(fam, socket.SOCK_STREAM)
    s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    if fam == socket.AF_INET6:
        s.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 1)
    s.bind((addr, port)); s.listen(64)
    while True:
        c, _ = s.accept(); c.sendall(b"hi"); c.close()
def udp(port, fam, addr):
    s = socket.socket(fam, socket.SOCK_DGRAM)
    if fam == socket.AF_INET6:
        s.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 1)
    s.bind((addr, port))
    while True:
        d, a = s.recvfrom(100); s.sendto(d, a)
for p in sys.argv[1].split(","):
    for fam, addr in ((socket.AF_INET, "0.0.0.0"), (socket.AF_INET6, "::")):
        threading.Thread(target=tcp, args=(int(p), fam, addr), daemon=True).start()
        threading.Thread(target=udp, args=(int(p), fam, addr), daemon=True).start()
print("ready", flush=True)
threading.Event().wait()
"""

CLIENT = r"""
import json, socket, sys, threading
probes = json.loads(sys.argv[1]); out = [None] * len(probes)
def one(i, p):
    proto, dst, port, src = p
    fam = socket.AF_INET6 if ":" in dst else socket.AF_INET
    s = socket.socket(fam, socket.SOCK_STREAM if proto == "tcp" else socket.SOCK_DGRAM)
    s.settimeout(1.0)
    try:
        if src:
            s.bind((src, 0))
        if proto == "tcp":
            s.connect((dst, port)); out[i] = s.recv(2) == b"hi"
        else:
            s.sendto(b"x", (dst, port)); out[i] = s.recvfrom(10)[0] == b"x"
    except OSError:
        out[i] = False
    finally:
        s.close()
ts = [threading.Thread(target=one, args=(i, p)) for i, p in enumerate(probes)]
[t.start() for t in ts]; [t.join() for t in ts]
print(json.dumps(out))
"""


# Host options' probes, from a guest to the host: a UDP broadcast to 255.255.255.255 (a smurf),
# a raw TCP segment with chosen flags (answered by a reset from a closed port, seen on a raw socket),
# and a burst of SYNs (how many connections complete at once).
HOSTPROBE = r"""
import json, select, socket, struct, sys, time
what, dst, port = sys.argv[1], sys.argv[2], int(sys.argv[3])
def csum(b):
    if len(b) % 2: b += b"\0"
    s = sum(struct.unpack("!%dH" % (len(b) // 2), b))
    while s >> 16: s = (s & 0xffff) + (s >> 16)
    return ~s & 0xffff
if what == "broadcast":
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.setsockopt(socket.SOL_SOCKET, socket.SO_BROADCAST, 1)
    s.setsockopt(socket.SOL_SOCKET, socket.SO_BINDTODEVICE, b"eth0")
    s.bind((sys.argv[4], 0)); s.settimeout(1.0)
    s.sendto(b"x", ("255.255.255.255", port))
    # The guest's own server hears its broadcast too: only the host's answer counts.
    got = False
    try:
        while not got: got = s.recvfrom(10)[1][0] == dst
    except OSError: pass
    print(json.dumps(got))
elif what == "flags":
    src, flags = sys.argv[4], int(sys.argv[5])
    rx = socket.socket(socket.AF_INET, socket.SOCK_RAW, socket.IPPROTO_TCP)
    tx = socket.socket(socket.AF_INET, socket.SOCK_RAW, socket.IPPROTO_TCP)
    sport = 40000 + int(time.time() * 1000) % 20000
    hdr = struct.pack("!HHIIBBHHH", sport, port, 1000, 0, 5 << 4, flags, 8192, 0, 0)
    ph = socket.inet_aton(src) + socket.inet_aton(dst) + struct.pack("!BBH", 0, 6, len(hdr))
    hdr = hdr[:16] + struct.pack("!H", csum(ph + hdr)) + hdr[18:]
    tx.sendto(hdr, (dst, 0))
    end = time.time() + 1.0; got = False
    while time.time() < end and not got:
        r, _, _ = select.select([rx], [], [], end - time.time())
        if not r: break
        d = rx.recv(100); ihl = (d[0] & 15) * 4
        sp, dp = struct.unpack("!HH", d[ihl:ihl + 4])
        got = sp == port and dp == sport and d[ihl + 13] & 4 != 0
    print(json.dumps(got))
elif what == "synburst":
    n, src = int(sys.argv[4]), sys.argv[5]
    socks = []
    for _ in range(n):
        s = socket.socket(); s.setblocking(False); s.bind((src, 0))
        s.connect_ex((dst, port)); socks.append(s)
    time.sleep(0.5)
    _, w, _ = select.select([], socks, [], 0)
    print(json.dumps(sum(1 for s in w if s.getsockopt(socket.SOL_SOCKET, socket.SO_ERROR) == 0)))
"""


# Flushes the namespace's IPv4 conntrack table (ctnetlink's DELETE without a tuple, as `conntrack
# -F`): each entry goes with its DESTROY event. Prints the kernel's answer (0: done).
FLUSH_CT = r"""
import socket, struct
s = socket.socket(socket.AF_NETLINK, socket.SOCK_RAW, 12)
s.bind((0, 0))
s.send(struct.pack("=LHHLL", 20, (1 << 8) | 2, 1 | 4, 1, 0) + struct.pack("=BBH", 2, 0, 0))
print(struct.unpack("=i", s.recv(4096)[16:20])[0])
"""

# A TFTP server's way of answering: each read request from a new port (the conntrack helper's
# reason to be); and the client, which reads the answer from whichever port it comes.
TFTP_SERVER = r"""
import socket
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM); s.bind(("0.0.0.0", 69))
print("ready", flush=True)
while True:
    d, a = s.recvfrom(512)
    r = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    try:
        r.sendto(b"\0\3\0\1data", a)
    except PermissionError:  # the firewall dropped it on its way out
        pass
    r.close()
"""
TFTP_CLIENT = r"""
import json, socket, sys
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM); s.settimeout(1.0)
s.sendto(b"\0\1file\0octet\0", (sys.argv[1], 69))
try:
    print(json.dumps(s.recvfrom(512)[0] == b"\0\3\0\1data"))
except OSError:
    print("false")
"""


def hostprobe(*args):
    return json.loads(sh(PY, "-c", HOSTPROBE, *map(str, args), ns=G100).stdout)


def sh(*args, check=True, ns=None):
    cmd = (["ip", "netns", "exec", ns] if ns else []) + list(args)
    r = subprocess.run(cmd, capture_output=True, text=True)
    if check:
        expect(r.returncode == 0, f"{cmd}: {r.stdout} {r.stderr}")
    return r


def pvectl(*args, ok=True):
    r = subprocess.run([os.path.join(BIN, "pvectl"), "--root", state["root"], "--output-format",
                        "json", *args], capture_output=True, text=True)
    if ok:
        expect(r.returncode == 0, f"pvectl {args}: {r.stdout} {r.stderr}")
    return r


def api(verb, path, **params):
    args = [verb, path]
    for k, v in params.items():
        args += [f"--{k}", str(v)]
    return pvectl(*args)


def api_fails(verb, path, **params):
    args = [verb, path]
    for k, v in params.items():
        args += [f"--{k}", str(v)]
    r = pvectl(*args, ok=False)
    expect(r.returncode != 0, f"pvectl {args} succeeded: {r.stdout}")
    return r.stdout + r.stderr


def probe(ns, probes):
    """[(proto, dst, port, src or None)] from ns, all at once: which got an answer."""
    r = sh(PY, "-c", CLIENT, json.dumps(probes), ns=ns)
    return json.loads(r.stdout)


def expect_traffic(ns, cases):
    """cases: [(proto, dst, port, src, allowed)] from ns."""
    got = probe(ns, [c[:4] for c in cases])
    for c, g in zip(cases, got):
        expect(g == c[4], f"from {ns}: {c[0]} to {c[1]}:{c[2]} (src {c[3]}) "
               f"{'answered' if g else 'dropped'}, expected {'answered' if c[4] else 'dropped'}")


def ping(ns, dst):
    cmd = ["busybox", "ping6" if ":" in dst else "ping", "-c", "1", "-W", "1", dst]
    return sh(*cmd, ns=ns, check=False).returncode == 0


def vm_fw(vmid):
    return f"/nodes/{NODE}/qemu/{vmid}/firewall"


def in_sync():
    r = subprocess.run(["ip", "netns", "exec", HOST, os.path.join(BIN, "pvectl"), "--root",
                        state["root"], "firewall", "status", "--node", NODE],
                       capture_output=True, text=True)
    return r.returncode == 0 and r.stdout.startswith("in sync"), r.stdout + r.stderr


def reset_guest(vmid, rules=(), **options):
    """The guest's .fw file replaced through the API: its rules deleted, then the given ones."""
    r = json.loads(api("get", f"{vm_fw(vmid)}/rules").stdout)
    for _ in r:
        api("delete", f"{vm_fw(vmid)}/rules/0")
    opts = {"enable": 1, "policy_in": "DROP", "policy_out": "ACCEPT", "ipfilter": 0,
            "macfilter": 1}
    opts.update(options)
    api("set", f"{vm_fw(vmid)}/options", **opts)
    for rule in reversed(rules):
        api("create", f"{vm_fw(vmid)}/rules", enable=1, **rule)


def setup_network():
    sh("ip", "netns", "add", HOST)
    for ns, vmid, n in ((G100, 100, 1), (G101, 101, 2)):
        sh("ip", "netns", "add", ns)
        sh("ip", "-n", HOST, "link", "add", f"tap{vmid}i0", "type", "veth", "peer", "name",
           "eth0", "netns", ns)
        sh("ip", "-n", ns, "link", "set", "eth0", "address", f"02:00:00:00:0{n}:00")
        sh("ip", "-n", HOST, "addr", "add", f"10.{vmid}.0.1/24", "dev", f"tap{vmid}i0")
        sh("ip", "-n", HOST, "addr", "add", f"fd00:{vmid}::1/64", "dev", f"tap{vmid}i0",
           "nodad")
        sh("ip", "-n", ns, "addr", "add", f"10.{vmid}.0.2/24", "dev", "eth0")
        sh("ip", "-n", ns, "addr", "add", f"10.{vmid}.0.3/24", "dev", "eth0")
        sh("ip", "-n", ns, "addr", "add", f"fd00:{vmid}::2/64", "dev", "eth0", "nodad")
        for dev, where in (("eth0", ns), (f"tap{vmid}i0", HOST), ("lo", ns)):
            sh("ip", "-n", where, "link", "set", dev, "up")
        sh("ip", "-n", ns, "route", "add", "default", "via", f"10.{vmid}.0.1")
        sh("ip", "-n", ns, "-6", "route", "add", "default", "via", f"fd00:{vmid}::1")
    sh("ip", "-n", HOST, "link", "set", "lo", "up")
    sh("sysctl", "-q", "-w", "net.ipv4.ip_forward=1", ns=HOST)
    sh("sysctl", "-q", "-w", "net.ipv6.conf.all.forwarding=1", ns=HOST)
    ports = "22,53,54,80,2222,2223,7070,8080,9090"
    for ns in (G100, G101, HOST):
        p = subprocess.Popen(["ip", "netns", "exec", ns, PY, "-c", SERVER, ports],
                             stdout=subprocess.PIPE, stderr=subprocess.DEVNULL)
        state["procs"].append(p)
        expect(p.stdout.readline().strip() == b"ready", f"server in {ns} did not start")
    # Neighbours known before filtering starts, so NDP and ARP timing does not decide a probe.
    for ns, dst in ((G100, "10.100.0.1"), (G101, "10.101.0.1"), (G100, "fd00:100::1"),
                    (G101, "fd00:101::1")):
        ping(ns, dst)


def start_pved():
    root = state["root"]
    conf = os.path.join(root, f"etc/pve/nodes/{NODE}/qemu-server")
    os.makedirs(conf)
    for vmid, n in ((100, 1), (101, 2)):
        with open(os.path.join(conf, f"{vmid}.conf"), "w") as f:
            f.write(f"name: g{vmid}\nmemory: 128\n"
                    f"net0: virtio=02:00:00:00:0{n}:00,bridge=vmbr0,firewall=1\n")
    log = open(os.path.join(root, "pved.log"), "ab")
    state["log"] = log
    p = subprocess.Popen(["ip", "netns", "exec", HOST, os.path.join(BIN, "pved"), "--root", root,
                          "--listen", f"127.0.0.1:{free_port()}", "--node", NODE, "--foreground"],
                         stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)
    state["pved"] = p
    deadline = time.time() + 20
    while not os.path.exists(os.path.join(root, "run/pved.sock")) and time.time() < deadline:
        expect(p.poll() is None, "pved exited")
        time.sleep(0.05)
    expect(os.path.exists(os.path.join(root, "run/pved.sock")), "pved did not start")


@case
def firewall_off_by_default():
    # No cluster.fw: no table, everything passes.
    expect_traffic(G101, [("tcp", "10.100.0.2", 80, None, True)])
    r = sh("nft", "list", "tables", ns=HOST)
    expect("pved-firewall" not in r.stdout, f"a table without a firewall: {r.stdout}")


@case
def guest_rules_and_macros():
    api("set", "/cluster/firewall/options", enable=1, policy_in="ACCEPT")
    reset_guest(100, [{"type": "in", "action": "ACCEPT", "macro": "SSH"},
                      {"type": "in", "action": "ACCEPT", "macro": "DNS"},
                      {"type": "in", "action": "ACCEPT", "macro": "Ping"}])
    reset_guest(101)
    expect_traffic(G101, [
        ("tcp", "10.100.0.2", 22, None, True),
        ("tcp", "10.100.0.2", 80, None, False),
        ("udp", "10.100.0.2", 53, None, True),
        ("tcp", "10.100.0.2", 53, None, True),
        ("udp", "10.100.0.2", 54, None, False),
        ("tcp", "fd00:100::2", 22, None, True),
        ("tcp", "fd00:100::2", 80, None, False),
        ("udp", "fd00:100::2", 53, None, True),
    ])
    expect(ping(G101, "10.100.0.2"), "IPv4 ping (macro Ping) dropped")
    expect(ping(G101, "fd00:100::2"), "IPv6 ping (macro Ping, icmpv6) dropped")
    # The guest's default policy out is ACCEPT, and answers come back through conntrack.
    expect_traffic(G100, [("tcp", "10.101.0.2", 80, None, False),
                          ("tcp", "10.100.0.1", 2222, None, True)])
    ok, text = in_sync()
    expect(ok, f"pvectl firewall status: {text}")


@case
def plain_rules_icmp_types():
    reset_guest(100, [{"type": "in", "action": "ACCEPT", "proto": "tcp", "dport": "7070:7080,80"},
                      {"type": "in", "action": "ACCEPT", "proto": "udp", "sport": "1:65535",
                       "dport": "54"},
                      {"type": "in", "action": "ACCEPT", "proto": "icmp",
                       "icmp-type": "echo-request"}])
    expect_traffic(G101, [
        ("tcp", "10.100.0.2", 80, None, True),
        ("tcp", "10.100.0.2", 7070, None, True),
        ("tcp", "fd00:100::2", 7070, None, True),
        ("tcp", "10.100.0.2", 22, None, False),
        ("udp", "10.100.0.2", 54, None, True),
        ("udp", "10.100.0.2", 53, None, False),
    ])
    expect(ping(G101, "10.100.0.2"), "icmp echo-request dropped")
    expect(not ping(G101, "fd00:100::2"), "icmpv6 echo-request passed an icmp-only rule")


@case
def aliases_and_ipsets():
    api("create", "/cluster/firewall/aliases", name="peer", cidr="10.101.0.3")
    api("create", "/cluster/firewall/ipset", name="friends")
    api("create", "/cluster/firewall/ipset/friends", cidr="10.101.0.0/24")
    api("create", "/cluster/firewall/ipset/friends", cidr="10.101.0.2", nomatch=1)
    api("create", "/cluster/firewall/ipset/friends", cidr="fd00:101::/64")
    api("create", f"{vm_fw(100)}/ipset", name="local6")
    api("create", f"{vm_fw(100)}/ipset/local6", cidr="fd00:101::2")
    reset_guest(100, [{"type": "in", "action": "ACCEPT", "source": "peer", "proto": "tcp",
                       "dport": "8080"},
                      {"type": "in", "action": "ACCEPT", "source": "+friends", "proto": "tcp",
                       "dport": "9090"},
                      {"type": "in", "action": "ACCEPT", "source": "+guest/local6",
                       "proto": "tcp", "dport": "22"}])
    expect_traffic(G101, [
        ("tcp", "10.100.0.2", 8080, "10.101.0.3", True),
        ("tcp", "10.100.0.2", 8080, "10.101.0.2", False),
        ("tcp", "10.100.0.2", 9090, "10.101.0.3", True),
        ("tcp", "10.100.0.2", 9090, "10.101.0.2", False),  # the nomatch entry
        ("tcp", "fd00:100::2", 9090, None, True),
        ("tcp", "fd00:100::2", 22, None, True),
        ("tcp", "10.100.0.2", 22, None, False),
    ])


@case
def groups_and_policies():
    api("create", "/cluster/firewall/groups", group="web", comment="web servers")
    api("create", "/cluster/firewall/groups/web", type="in", action="ACCEPT", macro="HTTP",
        enable=1)
    reset_guest(100, [{"type": "group", "action": "web"}])
    expect_traffic(G101, [("tcp", "10.100.0.2", 80, None, True),
                          ("tcp", "10.100.0.2", 22, None, False)])
    # policy_in ACCEPT opens everything; policy_out DROP on the other guest closes its side.
    reset_guest(100, policy_in="ACCEPT")
    expect_traffic(G101, [("tcp", "10.100.0.2", 22, None, True)])
    reset_guest(101, policy_out="DROP")
    expect_traffic(G101, [("tcp", "10.100.0.2", 22, None, False)])
    reset_guest(101, policy_out="REJECT")
    t0 = time.time()
    expect_traffic(G101, [("tcp", "10.100.0.2", 22, None, False)])
    expect(time.time() - t0 < 0.9, "REJECT answered no reset: the probe waited for its timeout")
    reset_guest(101)


@case
def forward_and_host_rules():
    # Forward rules hold between guests whatever the guests allow.
    api("create", "/cluster/firewall/rules", type="forward", action="DROP", proto="tcp",
        dport="7070", enable=1)
    expect_traffic(G101, [("tcp", "10.100.0.2", 7070, None, False),
                          ("tcp", "10.100.0.2", 22, None, True)])
    api("delete", "/cluster/firewall/rules/0")
    expect_traffic(G101, [("tcp", "10.100.0.2", 7070, None, True)])
    # The host: the cluster's policy_in DROP, a host rule for one port.
    api("set", "/cluster/firewall/options", policy_in="DROP")
    api("create", f"/nodes/{NODE}/firewall/rules", type="in", action="ACCEPT", proto="tcp",
        dport="2222", enable=1)
    expect_traffic(G100, [("tcp", "10.100.0.1", 2222, None, True),
                          ("tcp", "10.100.0.1", 2223, None, False)])
    api("delete", f"/nodes/{NODE}/firewall/rules/0")
    api("set", "/cluster/firewall/options", policy_in="ACCEPT")


@case
def spoofing_blocked():
    reset_guest(100, policy_in="ACCEPT")
    api("create", f"{vm_fw(101)}/ipset", name="ipfilter-net0")
    api("create", f"{vm_fw(101)}/ipset/ipfilter-net0", cidr="10.101.0.2")
    reset_guest(101, ipfilter=1)
    expect_traffic(G101, [("tcp", "10.100.0.2", 22, "10.101.0.2", True),
                          ("tcp", "10.100.0.2", 22, "10.101.0.3", False)])
    # The NIC's MAC is 02:00:00:00:02:00 in the guest's config: another one is dropped.
    sh("ip", "-n", G101, "link", "set", "eth0", "address", "02:00:00:00:02:99")
    sh("ip", "-n", HOST, "neigh", "flush", "dev", "tap101i0")
    try:
        expect_traffic(G101, [("tcp", "10.100.0.2", 22, "10.101.0.2", False)])
    finally:
        sh("ip", "-n", G101, "link", "set", "eth0", "address", "02:00:00:00:02:00")
        sh("ip", "-n", HOST, "neigh", "flush", "dev", "tap101i0")
    reset_guest(101, macfilter=0)
    sh("ip", "-n", G101, "link", "set", "eth0", "address", "02:00:00:00:02:99")
    try:
        ping(G101, "10.101.0.1")
        expect_traffic(G101, [("tcp", "10.100.0.2", 22, "10.101.0.2", True)])
    finally:
        sh("ip", "-n", G101, "link", "set", "eth0", "address", "02:00:00:00:02:00")
        sh("ip", "-n", HOST, "neigh", "flush", "dev", "tap101i0")
    reset_guest(101)


@case
def bad_input_changes_nothing():
    reset_guest(100)
    before = api("get", f"{vm_fw(100)}/rules").stdout
    for params, name, text in (
            ({"macro": "Nope"}, "macro", "unknown macro 'Nope'"),
            ({"proto": "tcp", "dport": "90:80"}, "dport", "backwards range '90:80'"),
            ({"source": "+nosuch"}, "source", "no such ipset 'nosuch'"),
            ({"source": "nosuch"}, "source", "no such alias 'nosuch'"),
            ({"iface": "eth0"}, "iface", "net\\d+")):
        out = api_fails("create", f"{vm_fw(100)}/rules", type="in", action="ACCEPT", **params)
        expect(name in out and text in out, f"{params}: {out}")
    out = api_fails("set", f"{vm_fw(100)}/options", policy_in="MAYBE")
    expect("policy_in" in out, out)
    expect(api("get", f"{vm_fw(100)}/rules").stdout == before, "a refused rule was written")
    ok, text = in_sync()
    expect(ok, f"after refused edits: {text}")
    # A digest from before a change is refused.
    digest = json.loads(api("get", f"{vm_fw(100)}/options").stdout)["digest"]
    api("set", f"{vm_fw(100)}/options", log_level_in="nolog")
    out = api_fails("set", f"{vm_fw(100)}/options", policy_in="ACCEPT", digest=digest)
    expect("detected modified configuration" in out, out)


@case
def broken_ruleset_keeps_previous():
    reset_guest(100, [{"type": "in", "action": "ACCEPT", "macro": "SSH"}])
    expect_traffic(G101, [("tcp", "10.100.0.2", 22, None, True)])
    # A hand edit the compiler refuses: the kernel keeps the ruleset it has.
    path = os.path.join(state["root"], "etc/pve/firewall/100.fw")
    with open(path) as f:
        good = f.read()
    with open(path, "a") as f:
        f.write("IN Bogus(ACCEPT)\n")
    time.sleep(0.5)
    expect_traffic(G101, [("tcp", "10.100.0.2", 22, None, True),
                          ("tcp", "10.100.0.2", 80, None, False)])
    # An API edit elsewhere answers with the reason; the previous ruleset stays.
    out = api_fails("set", f"{vm_fw(101)}/options", policy_in="ACCEPT")
    expect("100.fw" in out and "unknown macro 'Bogus'" in out, out)
    expect_traffic(G101, [("tcp", "10.100.0.2", 22, None, True),
                          ("tcp", "10.100.0.2", 80, None, False)])
    with open(path, "w") as f:
        f.write(good)
    api("set", f"{vm_fw(101)}/options", policy_in="DROP")
    ok, text = in_sync()
    expect(ok, f"after the repair: {text}")


@case
def restarted_guest_keeps_its_rules():
    # A guest that stops and starts again gets a new tap of the same name: the verdict maps match
    # by name, so its rules hold from the first packet, with nothing applied again.
    reset_guest(100, [{"type": "in", "action": "ACCEPT", "macro": "SSH"}])
    sh("ip", "-n", HOST, "link", "del", "tap100i0")
    sh("ip", "-n", HOST, "link", "add", "tap100i0", "type", "veth", "peer", "name", "eth0",
       "netns", G100)
    sh("ip", "-n", G100, "link", "set", "eth0", "address", "02:00:00:00:01:00")
    sh("ip", "-n", HOST, "addr", "add", "10.100.0.1/24", "dev", "tap100i0")
    sh("ip", "-n", HOST, "addr", "add", "fd00:100::1/64", "dev", "tap100i0", "nodad")
    sh("ip", "-n", G100, "addr", "add", "10.100.0.2/24", "dev", "eth0")
    sh("ip", "-n", G100, "addr", "add", "10.100.0.3/24", "dev", "eth0")
    sh("ip", "-n", G100, "addr", "add", "fd00:100::2/64", "dev", "eth0", "nodad")
    sh("ip", "-n", HOST, "link", "set", "tap100i0", "up")
    sh("ip", "-n", G100, "link", "set", "eth0", "up")
    sh("ip", "-n", G100, "route", "add", "default", "via", "10.100.0.1")
    sh("ip", "-n", G100, "-6", "route", "add", "default", "via", "fd00:100::1")
    ping(G100, "10.100.0.1")
    expect_traffic(G101, [("tcp", "10.100.0.2", 22, None, True),
                          ("tcp", "10.100.0.2", 80, None, False)])
    ok, text = in_sync()
    expect(ok, f"after the guest's restart: {text}")


@case
def table_flushed_behind_pveds_back():
    # Someone removes the guests' table: the next change of one guest puts every table back.
    reset_guest(100, [{"type": "in", "action": "ACCEPT", "macro": "SSH"}])
    sh("nft", "delete", "table", "inet", "pved-firewall-g0", ns=HOST)
    expect_traffic(G101, [("tcp", "10.100.0.2", 80, None, True)])
    api("set", f"{vm_fw(100)}/options", log_level_in="nolog")
    expect_traffic(G101, [("tcp", "10.100.0.2", 22, None, True),
                          ("tcp", "10.100.0.2", 80, None, False)])
    ok, text = in_sync()
    expect(ok, f"after the table came back: {text}")


@case
def api_edits():
    # Macros and references.
    macros = json.loads(api("get", "/cluster/firewall/macros").stdout)
    expect(len(macros) == 86 and {"macro": "SSH", "descr": "Secure shell traffic"} in macros,
           macros[:3])
    refs = json.loads(api("get", f"{vm_fw(100)}/refs").stdout)
    expect({"type": "ipset", "name": "local6", "ref": "+guest/local6", "scope": "guest"} in
           [{k: r[k] for k in ("type", "name", "ref", "scope")} for r in refs], refs)
    expect(any(r["ref"] == "dc/peer" for r in refs), refs)
    # Aliases: rename and change, read, delete.
    api("set", "/cluster/firewall/aliases/peer", cidr="10.101.0.2", rename="peer2",
        comment="renamed")
    a = json.loads(api("get", "/cluster/firewall/aliases/peer2").stdout)
    expect(a["cidr"] == "10.101.0.2" and a["comment"] == "renamed", a)
    out = api_fails("get", "/cluster/firewall/aliases/peer")
    expect("no such alias" in out, out)
    # Rules: update, delete a property, move.
    reset_guest(100, [{"type": "in", "action": "ACCEPT", "macro": "SSH", "comment": "first"},
                      {"type": "in", "action": "DROP", "proto": "udp", "dport": "53"}])
    api("set", f"{vm_fw(100)}/rules/1", dport="54", comment="second", log="info")
    api("set", f"{vm_fw(100)}/rules/1", delete="comment,log")
    rules = json.loads(api("get", f"{vm_fw(100)}/rules").stdout)
    expect([(r["pos"], r.get("macro"), r.get("dport"), r.get("comment"), r.get("log"))
            for r in rules] == [(0, "SSH", None, "first", None), (1, None, "54", None, None)],
           rules)
    api("set", f"{vm_fw(100)}/rules/1", moveto=0)
    rules = json.loads(api("get", f"{vm_fw(100)}/rules").stdout)
    expect([r.get("dport") for r in rules] == ["54", None], rules)
    out = api_fails("get", f"{vm_fw(100)}/rules/5")
    expect("no rule at position 5" in out, out)
    # IPSets: entries changed and removed, the set renamed, refused while not empty.
    api("set", "/cluster/firewall/ipset/friends/10.101.0.2", nomatch=0, comment="now a match")
    e = json.loads(api("get", "/cluster/firewall/ipset/friends/10.101.0.2").stdout)
    expect(e.get("nomatch") is None and e["comment"] == "now a match", e)
    out = api_fails("delete", "/cluster/firewall/ipset/friends")
    expect("is not empty" in out, out)
    out = api_fails("create", "/cluster/firewall/ipset/friends", cidr="10.101.0.2")
    expect("already exists" in out, out)
    api("create", "/cluster/firewall/ipset", name="friends2", rename="friends")
    names = [x["name"] for x in json.loads(api("get", "/cluster/firewall/ipset").stdout)]
    expect("friends2" in names and "friends" not in names, names)
    api("delete", "/cluster/firewall/ipset/friends2/10.101.0.2")
    api("delete", "/cluster/firewall/ipset/friends2", force=1)
    # Groups: a used group cannot go; an empty one can.
    out = api_fails("delete", "/cluster/firewall/groups/web")
    expect("not empty" in out, out)
    api("create", "/cluster/firewall/groups", group="spare")
    api("delete", "/cluster/firewall/groups/spare")
    groups = [g["group"] for g in json.loads(api("get", "/cluster/firewall/groups").stdout)]
    expect(groups == ["web"], groups)
    # Host options, read back as Proxmox types them.
    api("set", f"/nodes/{NODE}/firewall/options", nf_conntrack_max=196608, log_level_in="info")
    o = json.loads(api("get", f"/nodes/{NODE}/firewall/options").stdout)
    expect(o["nf_conntrack_max"] == 196608 and o["log_level_in"] == "info" and o["digest"], o)
    out = api_fails("set", f"/nodes/{NODE}/firewall/options", nf_conntrack_helpers="bogus")
    expect("nf_conntrack_helpers" in out, out)
    ok, text = in_sync()
    expect(ok, f"after the edits: {text}")


@case
def host_options():
    api("set", "/cluster/firewall/options", enable=1, policy_in="ACCEPT")
    reset_guest(100, policy_in="ACCEPT")
    host = f"/nodes/{NODE}/firewall/options"
    fin_syn, syn = 0x03, 0x02
    # nosmurfs is on unless host.fw says 0: a broadcast to the host is dropped, a unicast is not.
    expect(hostprobe("broadcast", "10.100.0.1", 7070, "10.100.0.2") is False,
           "a broadcast (smurf) reached the host with nosmurfs on by default")
    expect_traffic(G100, [("udp", "10.100.0.1", 7070, None, True)])
    api("set", host, nosmurfs=0)
    expect(hostprobe("broadcast", "10.100.0.1", 7070, "10.100.0.2") is True,
           "a broadcast did not reach the host with nosmurfs: 0")
    # tcpflags: SYN+FIN is dropped; conntrack calls it invalid too, so invalid packets are let
    # through (nf_conntrack_allow_invalid) to see the rule's own work: a closed port resets it
    # without tcpflags and not with it, while a plain SYN still gets its reset.
    api("set", host, nf_conntrack_allow_invalid=1)
    expect(hostprobe("flags", "10.100.0.1", 7777, "10.100.0.2", fin_syn) is True,
           "SYN+FIN got no reset without tcpflags (and invalid allowed)")
    api("set", host, tcpflags=1)
    expect(hostprobe("flags", "10.100.0.1", 7777, "10.100.0.2", fin_syn) is False,
           "SYN+FIN reached the host with tcpflags")
    expect(hostprobe("flags", "10.100.0.1", 7777, "10.100.0.2", syn) is True,
           "a plain SYN was dropped with tcpflags")
    # protection_synflood: one source's SYNs over its rate are dropped; another source's pass.
    n = hostprobe("synburst", "10.100.0.1", 7070, 40, "10.100.0.2")
    expect(n == 40, f"{n} of 40 connections without synflood protection")
    api("set", host, protection_synflood=1, protection_synflood_rate=1,
        protection_synflood_burst=10)
    n = hostprobe("synburst", "10.100.0.1", 7070, 40, "10.100.0.2")
    expect(5 <= n <= 15, f"{n} of 40 connections at once with a burst of 10")
    expect_traffic(G100, [("tcp", "10.100.0.1", 7070, "10.100.0.3", True)])
    # The conntrack settings reach the namespace's /proc/sys/net/netfilter.
    api("set", host, nf_conntrack_tcp_timeout_established=7875)
    v = sh("cat", "/proc/sys/net/netfilter/nf_conntrack_tcp_timeout_established", ns=HOST)
    expect(v.stdout.strip() == "7875", f"nf_conntrack_tcp_timeout_established: {v.stdout}")
    ok, text = in_sync()
    expect(ok, f"pvectl firewall status: {text}")
    r = subprocess.run([os.path.join(BIN, "pvectl"), "--root", state["root"], "firewall",
                        "compile"], capture_output=True, text=True)
    expect("update @v4-synflood-limit" in r.stdout, r.stdout + r.stderr)
    chk = subprocess.run(["ip", "netns", "exec", G100, "nft", "-c", "-f", "-"], input=r.stdout,
                         capture_output=True, text=True)
    expect(chk.returncode == 0, f"nft -c: {chk.stderr}")
    api("set", host, delete="nosmurfs,tcpflags,nf_conntrack_allow_invalid,protection_synflood,"
        "protection_synflood_rate,protection_synflood_burst")


@case
def firewall_log():
    api("set", "/cluster/firewall/options", enable=1, policy_in="ACCEPT")
    reset_guest(100, [{"type": "in", "action": "DROP", "proto": "tcp", "dport": "8080",
                       "log": "info"}], policy_in="ACCEPT")
    reset_guest(101)
    expect_traffic(G101, [("tcp", "10.100.0.2", 8080, None, False),
                          ("tcp", "10.100.0.2", 80, None, True)])
    line = re.compile(r"^100 6 guest-100-in \d\d/\w{3}/\d{4}:\d\d:\d\d:\d\d [+-]\d{4} DROP: "
                      r"IN=tap101i0 OUT=tap100i0 (MAC=[0-9a-f:]+ )?SRC=10\.101\.0\.2 "
                      r"DST=10\.100\.0\.2 LEN=\d+ .*PROTO=TCP SPT=\d+ DPT=8080 .*SYN ")
    deadline, got = time.time() + 5, []
    while time.time() < deadline:
        got = json.loads(api("get", f"/nodes/{NODE}/firewall/log", limit=0).stdout)
        if any(line.match(e["t"]) for e in got):
            break
        time.sleep(0.1)
    expect(any(line.match(e["t"]) for e in got), f"no logged drop in {got}")
    expect(not any("DPT=80 " in e["t"] for e in got), f"an accepted packet logged: {got}")
    expect([e["n"] for e in got] == list(range(1, len(got) + 1)), f"line numbers: {got}")
    vm = json.loads(api("get", f"{vm_fw(100)}/log").stdout)
    expect(vm and all(e["t"].startswith("100 ") for e in vm), f"VM 100's log: {vm}")
    other = json.loads(api("get", f"{vm_fw(101)}/log").stdout)
    expect(other == [{"n": 1, "t": "no content"}], f"VM 101's log: {other}")
    # since and until (UNIX epochs) select by the line's time.
    later = json.loads(api("get", f"/nodes/{NODE}/firewall/log",
                           since=int(time.time()) + 3600).stdout)
    expect(later == [{"n": 1, "t": "no content"}], f"since an hour ahead: {later}")
    now = json.loads(api("get", f"/nodes/{NODE}/firewall/log", since=int(time.time()) - 60,
                         until=int(time.time()) + 60).stdout)
    expect(any(line.match(e["t"]) for e in now), f"since a minute ago: {now}")
    page = json.loads(api("get", f"/nodes/{NODE}/firewall/log", start=1, limit=1).stdout)
    expect(len(got) < 2 or (len(page) == 1 and page[0]["n"] == 2), f"start=1 limit=1: {page}")
    reset_guest(100, policy_in="ACCEPT")


def fw_log(path=None):
    return json.loads(api("get", path or f"/nodes/{NODE}/firewall/log", limit=0).stdout)


@case
def conntrack_log():
    api("set", "/cluster/firewall/options", enable=1, policy_in="ACCEPT")
    reset_guest(100, policy_in="ACCEPT")
    host = f"/nodes/{NODE}/firewall/options"
    # On through the API (answered once in force): a connection's NEW and, when its entry goes,
    # its DESTROY reach the firewall log as pvefw-logger writes them.
    api("set", host, log_nf_conntrack=1)
    expect_traffic(G100, [("tcp", "10.100.0.1", 7070, "10.100.0.2", True)])
    r = sh(PY, "-c", FLUSH_CT, ns=HOST)
    expect(r.stdout.strip() == "0", f"conntrack flush: {r.stdout} {r.stderr}")
    new = re.compile(r"^    \[NEW\] ipv4     2 tcp      6 \d+ SYN_SENT src=10\.100\.0\.2 "
                     r"dst=10\.100\.0\.1 sport=(\d+) dport=7070 \[UNREPLIED\] src=10\.100\.0\.1 "
                     r"dst=10\.100\.0\.2 sport=7070 dport=(\d+)")
    gone = re.compile(r"^\[DESTROY\] ipv4     2 tcp      6 .*src=10\.100\.0\.2 dst=10\.100\.0\.1 "
                      r"sport=(\d+) dport=7070 .*src=10\.100\.0\.1 dst=10\.100\.0\.2 sport=7070")
    deadline, got, ports = time.time() + 5, [], set()
    while time.time() < deadline:
        got = fw_log()
        news = {m.group(1) for m in (new.match(e["t"]) for e in got) if m}
        ports = news & {m.group(1) for m in (gone.match(e["t"]) for e in got) if m}
        if ports:
            break
        time.sleep(0.1)
    expect(ports, f"no NEW and DESTROY of one connection in {got}")
    # The guests' logs are their own lines only.
    vm = fw_log(f"{vm_fw(100)}/log")
    expect(not any("[NEW]" in e["t"] for e in vm), f"VM 100's log: {vm}")
    # Off: the subscription goes, and a new connection is not logged.
    api("set", host, delete="log_nf_conntrack")
    expect_traffic(G100, [("tcp", "10.100.0.1", 7070, "10.100.0.3", True)])
    time.sleep(0.5)
    got = fw_log()
    expect(not any("src=10.100.0.3 " in e["t"] for e in got), f"logged while off: {got}")


@case
def conntrack_helpers():
    # The helper must be in this kernel already: a test loads no module (the kernel would, for a
    # ct helper object whose helper it lacks).
    loaded = os.path.exists("/sys/module/nf_conntrack_tftp")
    if not loaded and os.path.exists("/proc/modules"):
        with open("/proc/modules") as f:
            loaded = any(line.startswith("nf_conntrack_tftp ") for line in f)
    if not loaded:
        raise Skip("this kernel has no nf_conntrack_tftp loaded or built in")
    api("set", "/cluster/firewall/options", enable=1, policy_in="ACCEPT")
    reset_guest(100)
    p = subprocess.Popen(["ip", "netns", "exec", HOST, PY, "-c", TFTP_SERVER],
                         stdout=subprocess.PIPE, stderr=subprocess.DEVNULL)
    state["procs"].append(p)
    expect(p.stdout.readline().strip() == b"ready", "the TFTP server did not start")

    def tftp():
        return json.loads(sh(PY, "-c", TFTP_CLIENT, "10.100.0.1", ns=G100).stdout)
    # The answer comes from another port: a new connection to a guest whose policy drops it...
    expect(tftp() is False, "a TFTP answer reached the guest without the helper")
    # ...and RELATED to the request with the helper, which the guest's chains accept.
    host = f"/nodes/{NODE}/firewall/options"
    api("set", host, nf_conntrack_helpers="tftp,ftp")
    expect(tftp() is True, "no TFTP answer with nf_conntrack_helpers: tftp")
    ok, text = in_sync()
    expect(ok, f"pvectl firewall status: {text}")
    r = subprocess.run([os.path.join(BIN, "pvectl"), "--root", state["root"], "firewall",
                        "compile"], capture_output=True, text=True)
    expect('ct helper set "helper-tftp-udp"' in r.stdout and "ct helper helper-ftp-tcp {"
           in r.stdout, r.stdout + r.stderr)
    chk = subprocess.run(["ip", "netns", "exec", G100, "nft", "-c", "-f", "-"], input=r.stdout,
                         capture_output=True, text=True)
    expect(chk.returncode == 0, f"nft -c: {chk.stderr}")
    out = api_fails("set", host, nf_conntrack_helpers="tftp,,ftp")
    expect("nf_conntrack_helpers" in out and "extraneous commas" in out, out)
    api("set", host, delete="nf_conntrack_helpers")
    expect(tftp() is False, "a TFTP answer reached the guest after the helper went")
    p.terminate()
    p.wait()
    state["procs"].remove(p)


@case
def compile_prints_nft():
    r = subprocess.run([os.path.join(BIN, "pvectl"), "--root", state["root"], "firewall",
                        "compile"], capture_output=True, text=True)
    expect(r.returncode == 0 and "chain guest-100-in {" in r.stdout, r.stdout + r.stderr)
    # nft reads what it prints.
    chk = subprocess.run(["ip", "netns", "exec", G100, "nft", "-c", "-f", "-"], input=r.stdout,
                         capture_output=True, text=True)
    expect(chk.returncode == 0, f"nft -c: {chk.stderr}")


@case
def disabling_removes_the_table():
    api("set", "/cluster/firewall/options", enable=0)
    r = sh("nft", "list", "tables", ns=HOST)
    expect("pved-firewall" not in r.stdout, r.stdout)
    expect_traffic(G101, [("tcp", "10.100.0.2", 80, None, True)])


def main():
    if os.geteuid() != 0:
        print("skip integration-firewall: needs root")
        return 0
    for tool in ("ip", "nft", "busybox"):
        if not shutil.which(tool):
            print(f"skip integration-firewall: needs {tool}")
            return 0
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(1))
    state["root"] = tempfile.mkdtemp(prefix="pved-test-")
    state["procs"] = []
    try:
        setup_network()
        start_pved()
        return run()
    finally:
        for p in state["procs"] + [state.get("pved")]:
            if p and p.poll() is None:
                p.send_signal(signal.SIGTERM)
                try:
                    p.wait(10)
                except subprocess.TimeoutExpired:
                    p.kill()
                    p.wait()
        for ns in (G100, G101, HOST):
            subprocess.run(["ip", "netns", "del", ns], capture_output=True)
        if state.get("log"):
            state["log"].close()
        shutil.rmtree(state["root"], ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
