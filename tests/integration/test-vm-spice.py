"""SPICE for VMs, as remote-viewer reaches a Proxmox VM: two VMs with `vga: qxl` (no OS: SeaBIOS is
enough for SPICE's main channel) get QEMU's SPICE on a TLS port on 127.0.0.1 in 61000-61999 (showcmd
and query-spice agree); spiceproxy's answer field by field (Proxmox's remote_viewer_config); a
SPICE client (spicelib) goes through the node's SPICE proxy with the answer's proxy and host, TLS
with its CA and host-subject, links the main channel with the password and reads SPICE_MSG_MAIN_INIT.
Refused: a wrong password (link result not 0), a forged ticket, another VM's port with a valid
ticket, another method than CONNECT, an expired ticket (after 40 s). The relay is bounded: a stand-in
SPICE server (a ticket signed here with the node's secret) that writes without end to a client that
does not read, and the other way round, gets only so far, pved's and pved-api's memory stay flat, and
every byte arrives once the reader reads. Runs as root; skips without QEMU's SPICE module; every QEMU
is stopped by PID at the end."""

import hashlib
import os
import re
import socket
import subprocess
import sys
import threading
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from pvetest import BIN, Skip, case, expect, rss_kib  # noqa: E402
import spicelib  # noqa: E402
import vmlib  # noqa: E402
from vmlib import task, wait_status  # noqa: E402

VMS = (710, 711)
state = {}


def need_spice():
    vmlib.need_root_and_qemu()
    r = subprocess.run([vmlib.QEMU, "-spice", "help"], capture_output=True, text=True)
    # (QEMU exits 1 after the help; without the module it knows no -spice)
    if "tls-port" not in r.stdout + r.stderr:
        raise Skip("QEMU has no SPICE (package qemu-system-modules-spice)")


def need_vms():
    if "ports" not in state:
        raise Skip(state.get("why", "the VMs did not start"))


def spiceproxy(n, vmid):
    r = n.post(f"/nodes/{n.name}/qemu/{vmid}/spiceproxy", {"proxy": "127.0.0.1"})
    expect(r.status == 200, r)
    return r.data


@case
def qxl_vms_start_with_spice(n):
    try:
        need_spice()
    except Skip as e:
        state["why"] = str(e)
        raise
    for vmid in VMS:
        r = n.post(f"/nodes/{n.name}/qemu", {"vmid": vmid, "name": f"spice{vmid}", "memory": 64,
                                             "vga": "qxl"})
        task(n, r)
    # the first with SPICE's audio and enhancements, as Proxmox renders them; spice_enhancements
    # is root's (Proxmox's rule): set through the node's local socket
    r = n.request("PUT", f"/nodes/{n.name}/qemu/{VMS[0]}/config",
                  {"audio0": "device=ich9-intel-hda,driver=spice"})
    expect(r.status == 200, r)
    out = subprocess.run([os.path.join(BIN, "pvectl"), "--root", n.root, "set",
                          f"/nodes/{n.name}/qemu/{VMS[0]}/config",
                          "--spice_enhancements", "foldersharing=1,videostreaming=filter"],
                         capture_output=True, text=True)
    expect(out.returncode == 0, out)
    out = subprocess.run([os.path.join(BIN, "pvectl"), "--root", n.root, "vm", "showcmd",
                          str(VMS[0])], capture_output=True, text=True)
    expect(out.returncode == 0, out)
    cmd = out.stdout
    expect("qxl-vga,id=vga" in cmd and "virtio-serial,id=spice" in cmd, cmd)
    expect("spicevmc,id=vdagent,name=vdagent" in cmd, cmd)
    expect("virtserialport,chardev=vdagent,name=com.redhat.spice.0" in cmd, cmd)
    expect(re.search(r"-spice tls-port=\d+,addr=127\.0\.0\.1,tls-ciphers=HIGH,"
                     r"seamless-migration=on,x509-cert-file=", cmd), cmd)
    ports = {}
    for vmid in VMS:
        task(n, n.post(f"/nodes/{n.name}/qemu/{vmid}/status/start"))
        wait_status(n, vmid, "running")
        # QEMU's own word on the port: the monitor's query-spice
        r = n.post(f"/nodes/{n.name}/qemu/{vmid}/monitor", {"command": "info spice"})
        expect(r.status == 200, r)
        m = re.search(r"address: 127\.0\.0\.1:(\d+) \[tls\]", r.data)
        expect(m, r.data)
        ports[vmid] = int(m.group(1))
        expect(61000 <= ports[vmid] <= 61999, ports)
    tree = n.post(f"/nodes/{n.name}/qemu/{VMS[0]}/monitor", {"command": "info qtree"}).data
    for dev in ('dev: hda-duplex, id "audiodev0-codec1"', 'name = "org.spice-space.webdav.0"'):
        expect(dev in tree, f"{dev!r} not in QEMU's device tree")
    expect(ports[VMS[0]] != ports[VMS[1]], ports)
    state["ports"] = ports


@case
def spiceproxy_answer(n):
    need_vms()
    a = spiceproxy(n, VMS[0])
    want = {"type": "spice", "title": f"VM {VMS[0]} - spice{VMS[0]}",
            "secure-attention": "Ctrl+Alt+Ins", "toggle-fullscreen": "Shift+F11",
            "release-cursor": "Ctrl+Alt+R", "delete-this-file": 1,
            "tls-port": state["ports"][VMS[0]], "proxy": f"http://127.0.0.1:{n.spice_port}"}
    for k, v in want.items():
        expect(a.get(k) == v, f"{k}: {a.get(k)!r}, want {v!r}")
    expect(re.fullmatch(rf"pvespiceproxy:[0-9a-f]{{8}}:{VMS[0]}:{n.name}:{a['tls-port']}::"
                        r"[0-9a-f]{40}", a["host"]), a["host"])
    expect(re.fullmatch(r"[0-9a-f]{40}", a["password"]), a["password"])
    expect(a["ca"].startswith("-----BEGIN CERTIFICATE-----\\n") and "\n" not in a["ca"], a["ca"])
    expect(a["host-subject"].endswith(f"CN={n.name}"), a["host-subject"])
    # Proxmox's proxy default: the node (here the name; 3128 on a real node)
    r = n.post(f"/nodes/{n.name}/qemu/{VMS[0]}/spiceproxy")
    expect(r.status == 200 and r.data["proxy"] == f"http://{n.name}:{n.spice_port}", r)


@case
def client_links_main_channel(n):
    need_vms()
    a = spiceproxy(n, VMS[0])
    result, first = spicelib.connect(a)
    expect(result == spicelib.LINK_ERR_OK, f"link result {result}")
    expect(first == spicelib.MSG_MAIN_INIT, f"first message {first}")


@case
def wrong_password_refused(n):
    need_vms()
    a = spiceproxy(n, VMS[0])
    result, _ = spicelib.connect(a, password="0" * 40)
    expect(result != spicelib.LINK_ERR_OK, "a wrong password linked")


@case
def forged_ticket_refused(n):
    need_vms()
    a = spiceproxy(n, VMS[0])
    host = a["host"]
    sig = host[-40:]
    forged = host[:-40] + ("0" if sig[0] != "0" else "1") + sig[1:]
    for target in (f"{forged}:{a['tls-port']}",
                   # the time moved on: the signature no longer fits
                   re.sub(r"^pvespiceproxy:([0-9a-f]{8})",
                          lambda m: f"pvespiceproxy:{int(m.group(1), 16) + 1:08x}", host)
                   + f":{a['tls-port']}",
                   "pvespiceproxy:00000000:1:x:61000::" + "0" * 40 + ":61000",
                   "nonsense:1"):
        try:
            spicelib.proxy_connect(a["proxy"], target)
            raise AssertionError(f"{target} was let through")
        except spicelib.ProxyRefused as e:
            expect(str(e).startswith("HTTP/1.0 401"), f"{target}: {e}")


@case
def other_vms_port_refused(n):
    need_vms()
    a = spiceproxy(n, VMS[0])
    other = state["ports"][VMS[1]]
    try:
        spicelib.proxy_connect(a["proxy"], f"{a['host']}:{other}")
        raise AssertionError("VM 710's ticket opened VM 711's port")
    except spicelib.ProxyRefused as e:
        expect(str(e).startswith("HTTP/1.0 401"), e)
    # and VM 711's own ticket opens it
    result, first = spicelib.connect(spiceproxy(n, VMS[1]))
    expect(result == spicelib.LINK_ERR_OK and first == spicelib.MSG_MAIN_INIT, (result, first))


@case
def only_connect(n):
    need_vms()
    s = socket.create_connection(("127.0.0.1", n.spice_port), timeout=10)
    try:
        s.sendall(b"GET / HTTP/1.0\r\n\r\n")
        line = s.recv(200).split(b"\r\n", 1)[0]
        expect(line.startswith(b"HTTP/1.0 501"), line)
    finally:
        s.close()


def signed_target(n, vmid, port):
    """A proxy ticket as pved makes one, signed here with the node's secret (pve-www.key)."""
    with open(n.path("etc/pve/pve-www.key")) as f:
        secret = f.read().split("\n")[0]
    plain = f"pvespiceproxy:{int(time.time()):08x}:{vmid}:{n.name.lower()}:{port}"
    return f"{plain}::{hashlib.sha1((plain + secret).encode()).hexdigest()}:{port}"


def flood(s, seconds, limit=256 << 20):
    """Writes to s for seconds (or up to limit): how much it took."""
    s.settimeout(0.2)
    chunk = bytes(range(256)) * 256
    sent, deadline = 0, time.time() + seconds
    while time.time() < deadline and sent < limit:
        try:
            sent += s.send(chunk)
        except socket.timeout:
            pass
    return sent


def drain(s, want, timeout=60):
    s.settimeout(timeout)
    got = 0
    while got < want:
        b = s.recv(1 << 20)
        if not b:
            break
        got += len(b)
    return got


@case
def relay_bounded(n):
    vmlib.need_root_and_qemu()
    srv = socket.socket()
    for port in range(61999, 61900, -1):
        try:
            srv.bind(("127.0.0.1", port))
            break
        except OSError:
            continue
    srv.listen(1)
    front = n.front_pids()[0]
    base = {"pved-api": rss_kib(front), "pved": rss_kib(n.proc.pid)}
    client = spicelib.proxy_connect(f"http://127.0.0.1:{n.spice_port}",
                                    signed_target(n, 999, port))
    conn, _ = srv.accept()
    srv.close()
    try:
        # the server writes, the client does not read; then the other way
        down = flood(conn, 4)
        up = flood(client, 4)
        grown = {"pved-api": rss_kib(front) - base["pved-api"],
                 "pved": rss_kib(n.proc.pid) - base["pved"]}
        print(f"# relay to readers that do not read: {down >> 10} KiB down, {up >> 10} KiB up "
              f"taken; RSS growth {grown} KiB", flush=True)
        # socket buffers and the windows, far from what 4 s on loopback would move unbounded
        expect(down < 64 << 20 and up < 64 << 20, (down, up))
        expect(grown["pved-api"] < 32 << 10 and grown["pved"] < 32 << 10, grown)
        # every byte arrives once the readers read
        results = {}
        t = threading.Thread(target=lambda: results.update(up=drain(conn, up)))
        t.start()
        expect(drain(client, down) == down, "the client did not get all the server sent")
        t.join(70)
        expect(results.get("up") == up, "the server did not get all the client sent")
        # the server's end reaches the client
        conn.close()
        client.settimeout(10)
        expect(client.recv(1) == b"", "the tunnel did not end with the server's close")
    finally:
        conn.close()
        client.close()


@case
def expired_ticket_refused(n):
    need_vms()
    a = spiceproxy(n, VMS[0])
    time.sleep(41)
    try:
        spicelib.proxy_connect(a["proxy"], f"{a['host']}:{a['tls-port']}")
        raise AssertionError("an expired ticket was let through")
    except spicelib.ProxyRefused as e:
        expect(str(e).startswith("HTTP/1.0 401"), e)


if __name__ == "__main__":
    sys.exit(vmlib.vm_main("integration-vm-spice"))
