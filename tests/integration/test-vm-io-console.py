"""A VM's consoles on a real pved with the test guest (booted directly from its kernel, PVH), over TLS
websockets as the web interface's noVNC and xterm.js reach them: the serial termproxy (serial0) shows
the guest's boot up to GUEST-READY and runs a command in its shell; vncproxy's port through
vncwebsocket speaks RFB 3.8 with VNC authentication, the VNC ticket as the password (QMP set_password),
and delivers a framebuffer update. A bad ticket opens nothing. With `vga: serial0`, vncproxy shows the
serial port as a terminal (pved's vncterm): the handshake, a full update, lit pixels as the guest
boots, keys typed that power it off. monitor: `info version` for a user with
Sys.Audit on the VM, `stop` refused to them (Sys.Modify on /), root's commands and unlisted ones
refused to the administrator (Proxmox 9's table), a second line refused; sendkey and
its bad key; spiceproxy answers as Proxmox's for a VM without SPICE; the consoles of a stopped VM are
refused. Runs as root; every QEMU is stopped by PID at the end."""

import os
import re
import struct
import subprocess
import sys
import time
import urllib.parse
import warnings

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import pvetest  # noqa: E402
from pvetest import BIN, Skip, case, expect  # noqa: E402
import vmlib  # noqa: E402
from vmlib import task, wait_status  # noqa: E402


state = {}
VMID = 700


def pvectl(n, *args):
    r = subprocess.run([os.path.join(BIN, "pvectl"), "--root", n.root, *args],
                       capture_output=True, text=True)
    expect(r.returncode == 0, f"pvectl {args}: {r.stdout} {r.stderr}")
    return r.stdout


def need_guest():
    if "pid" not in state:
        raise Skip(state.get("why", "the guest did not start"))


def websocket(n, tp):
    q = urllib.parse.urlencode({"port": tp["port"], "vncticket": tp["ticket"]})
    return n.websocket(f"/nodes/{n.name}/qemu/{VMID}/vncwebsocket?{q}", n.ticket)


@case
def serial_termproxy_during_boot(n):
    try:
        g = vmlib.guest_image()
    except Skip as e:
        state["why"] = str(e)
        raise
    with open(os.path.join(g, "cmdline")) as f:
        cmdline = f.read().strip()
    args = f"-kernel {g}/vmlinux -initrd {g}/initrd.gz -append '{cmdline}'"
    pvectl(n, "create", f"/nodes/{n.name}/qemu", "--vmid", str(VMID), "--name", "console",
           "--memory", "192", "--serial0", "socket", f"--args={args}")
    # a stopped VM has no console
    r = n.post(f"/nodes/{n.name}/qemu/{VMID}/termproxy", {"serial": "serial0"})
    expect(r.status != 200 and "not running" in (r.json or {}).get("message", ""), r)
    task(n, n.post(f"/nodes/{n.name}/qemu/{VMID}/status/start"))
    state["pid"] = wait_status(n, VMID, "running")["pid"]
    # QEMU drops serial output while no one listens: connected right after the start
    r = n.post(f"/nodes/{n.name}/qemu/{VMID}/termproxy", {"serial": "serial0"})
    expect(r.status == 200 and 5900 <= r.data["port"] <= 5999, r)
    tp = r.data
    expect(":vncproxy:700:" in tp["upid"], tp)
    ws = websocket(n, tp)
    try:
        expect(ws.accepted, ws.head)
        ws.send(f"{tp['user']}:{tp['ticket']}\n".encode())
        ws.read_until(rb"OK")
        # the boot may be quiet for longer than the client's default timeout
        ws.s.settimeout(vmlib.READY_LIMIT)
        t0 = time.time()
        try:
            ws.read_until(rb"GUEST-READY", timeout=vmlib.READY_LIMIT)
        except Exception as e:
            raise AssertionError(f"no GUEST-READY: {e!r}, buffered {ws.buf[-300:]!r}")
        print(f"# GUEST-READY on the termproxy {time.time() - t0:.1f} s after connecting",
              flush=True)
        cmd = b"\necho pved-$((6*7))\n"
        ws.send(b"0:%d:" % len(cmd) + cmd)
        ws.read_until(rb"pved-42")
        ws.send(b"1:80:24:")
        ws.send(b"2")
    finally:
        ws.close()
    st = n.wait_task(tp["upid"])
    expect(st["exitstatus"] == "OK", st)
    # a port that is not a serial socket
    r = n.post(f"/nodes/{n.name}/qemu/{VMID}/termproxy", {"serial": "serial1"})
    expect(r.status == 400 and "serial" in (r.json or {}).get("errors", {}), r)


def des_response(password, challenge):
    """VNC authentication: the challenge DES-encrypted with the password's first 8 bytes, each
    byte's bits reversed (RFB 6.2.2)."""
    from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes
    key = bytes(int(f"{b:08b}"[::-1], 2) for b in password.encode()[:8].ljust(8, b"\0"))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        enc = Cipher(algorithms.TripleDES(key), modes.ECB()).encryptor()
    return enc.update(challenge) + enc.finalize()


class RFB:
    """Bytes of the RFB stream from websocket frames."""

    def __init__(self, ws):
        self.ws, self.buf = ws, b""

    def read(self, n, timeout=20):
        deadline = time.time() + timeout
        while len(self.buf) < n:
            expect(time.time() < deadline, f"RFB: {len(self.buf)} of {n} bytes")
            op, data = self.ws.recv()
            if op == 8:
                raise EOFError(f"closed after {self.buf!r}")
            self.buf += data
        out, self.buf = self.buf[:n], self.buf[n:]
        return out


@case
def vnc_over_websocket(n):
    need_guest()
    r = n.post(f"/nodes/{n.name}/qemu/{VMID}/vncproxy", {"websocket": 1})
    expect(r.status == 200 and 5900 <= r.data["port"] <= 5999, r)
    vp = r.data
    expect("BEGIN CERTIFICATE" in vp["cert"] and vp["user"] == "admin@pve" and
           "password" not in vp, vp)
    ws = websocket(n, vp)
    try:
        expect(ws.accepted, ws.head)
        rfb = RFB(ws)
        expect(rfb.read(12) == b"RFB 003.008\n", "no RFB 3.8 greeting")
        ws.send(b"RFB 003.008\n")
        count = rfb.read(1)[0]
        types = rfb.read(count)
        expect(2 in types, f"security types {list(types)}: no VNC authentication")
        ws.send(b"\x02")
        challenge = rfb.read(16)
        ws.send(des_response(vp["ticket"], challenge))
        expect(struct.unpack(">I", rfb.read(4))[0] == 0, "VNC authentication failed")
        ws.send(b"\x01")  # ClientInit: shared
        w, h = struct.unpack(">HH", rfb.read(4))
        rfb.read(16)  # pixel format
        name = rfb.read(struct.unpack(">I", rfb.read(4))[0])
        expect(w > 0 and h > 0, (w, h))
        ws.send(struct.pack(">BBHHHH", 3, 0, 0, 0, w, h))  # FramebufferUpdateRequest
        t0 = time.time()
        msg = rfb.read(1)[0]
        while msg != 0:  # skip what else the server sends first (SetColourMapEntries, Bell...)
            expect(time.time() - t0 < 20 and msg in (1, 2, 3), f"RFB message {msg}")
            if msg == 2:
                msg = rfb.read(1)[0]
                continue
            raise AssertionError(f"unexpected RFB message {msg}")
        rfb.read(1)
        rects = struct.unpack(">H", rfb.read(2))[0]
        expect(rects >= 1, "an update without rectangles")
        x, y, rw, rh, enc = struct.unpack(">HHHHi", rfb.read(12))
        expect(rw > 0 and rh > 0, (x, y, rw, rh, enc))
        print(f"# RFB {w}x{h} {name!r}: a framebuffer update {rw}x{rh} encoding {enc}", flush=True)
    finally:
        ws.close()
    st = n.wait_task(vp["upid"])
    expect(st["exitstatus"] == "OK", st)
    # a bad ticket opens nothing; the proxy task gives up waiting
    r = n.post(f"/nodes/{n.name}/qemu/{VMID}/vncproxy", {"websocket": 1})
    vp = r.data
    ws = websocket(n, dict(vp, ticket=vp["ticket"] + "x"))
    try:
        expect(not ws.accepted and re.match(r"HTTP/1.1 40[13]", ws.head), ws.head)
    finally:
        ws.close()
    st = n.wait_task(vp["upid"], timeout=30)
    expect(st["exitstatus"] != "OK", st)


@case
def monitor_and_its_refusals(n):
    need_guest()
    r = n.post(f"/nodes/{n.name}/qemu/{VMID}/monitor", {"command": "info version"})
    expect(r.status == 200 and re.match(r"\d+\.\d+\.\d+", r.data), r)
    r = n.post(f"/nodes/{n.name}/qemu/{VMID}/monitor", {"command": "info nosuchthing"})
    expect(r.status == 200 and isinstance(r.data, str), r)
    r = n.post(f"/nodes/{n.name}/qemu/{VMID}/monitor", {"command": "info version\nquit"})
    expect(r.status == 400 and "command" in (r.json or {}).get("errors", {}), r)
    expect(vmlib.alive(state["pid"]), "QEMU quit")
    # a user with Sys.Audit on the VM only: info, nothing else
    expect(n.post("/access/users", {"userid": "mon@pve", "password": "mon-pw-123"}).status == 200,
           "user")
    r = n.request("PUT", "/access/acl", {"path": f"/vms/{VMID}", "roles": "PVEAuditor",
                                         "users": "mon@pve"})
    expect(r.status == 200, r)
    t = n.post("/access/ticket", {"username": "mon@pve", "password": "mon-pw-123"},
               ticket="").data
    creds = {"ticket": t["ticket"], "csrf": t["CSRFPreventionToken"]}
    r = n.request("POST", f"/nodes/{n.name}/qemu/{VMID}/monitor", {"command": "info status"},
                  **creds)
    expect(r.status == 200 and "running" in r.data, r)
    r = n.request("POST", f"/nodes/{n.name}/qemu/{VMID}/monitor", {"command": "stop"}, **creds)
    expect(r.status == 403 and "Sys.Modify" in r.reason, r)
    expect(wait_status(n, VMID, "running")["qmpstatus"] == "running", "the VM was stopped")
    # Proxmox 9's table: root's commands, and those it does not know, even for the administrator
    r = n.post(f"/nodes/{n.name}/qemu/{VMID}/monitor", {"command": "device_add e1000"})
    expect(r.status == 403 and "root-only command 'device_add'" in r.reason, r)
    r = n.post(f"/nodes/{n.name}/qemu/{VMID}/monitor", {"command": "nosuchcmd"})
    expect(r.status == 403 and "limiting to root user" in r.reason, r)


@case
def sendkey(n):
    need_guest()
    r = n.request("PUT", f"/nodes/{n.name}/qemu/{VMID}/sendkey", {"key": "shift-a"})
    expect(r.status == 200, r)
    r = n.request("PUT", f"/nodes/{n.name}/qemu/{VMID}/sendkey", {"key": "a\ninfo"})
    expect(r.status == 400 and "key" in (r.json or {}).get("errors", {}), r)
    r = n.request("PUT", f"/nodes/{n.name}/qemu/{VMID}/sendkey", {"key": "nosuchkey"})
    expect(r.status == 500 and "nosuchkey" in (r.json or {}).get("message", ""), r)


@case
def spiceproxy_without_spice(n):
    need_guest()
    r = n.post(f"/nodes/{n.name}/qemu/{VMID}/spiceproxy")
    msg = (r.json or {}).get("message", "")
    expect(r.status == 500 and ("spice" in msg), r)


def rfb_handshake(ws, rfb, password):
    """3.8, VNC authentication, ClientInit: ServerInit's (width, height, name)."""
    expect(rfb.read(12) == b"RFB 003.008\n", "no RFB 3.8 greeting")
    ws.send(b"RFB 003.008\n")
    expect(2 in rfb.read(rfb.read(1)[0]), "no VNC authentication")
    ws.send(b"\x02")
    ws.send(des_response(password, rfb.read(16)))
    expect(struct.unpack(">I", rfb.read(4))[0] == 0, "VNC authentication failed")
    ws.send(b"\x01")
    w, h = struct.unpack(">HH", rfb.read(4))
    rfb.read(16)
    return w, h, rfb.read(struct.unpack(">I", rfb.read(4))[0])


def raw_update(ws, rfb, w, h, incremental):
    """One FramebufferUpdate of Raw 32-bit rectangles: whether any pixel is not black."""
    ws.send(struct.pack(">BBHHHH", 3, int(incremental), 0, 0, w, h))
    expect(rfb.read(2)[0] == 0, "not a FramebufferUpdate")
    lit = False
    for _ in range(struct.unpack(">H", rfb.read(2))[0]):
        _, _, rw, rh, enc = struct.unpack(">HHHHi", rfb.read(12))
        expect(enc == 0, f"encoding {enc}")
        px = rfb.read(rw * rh * 4)
        lit = lit or any(px[i:i + 3] != b"\0\0\0" for i in range(0, len(px), 4))
    return lit


@case
def vnc_on_a_serial_display(n):
    """Last: the guest is powered off from its serial console."""
    need_guest()
    for vga in ("serial1", "serial0"):
        task(n, n.post(f"/nodes/{n.name}/qemu/{VMID}/status/stop"))
        wait_status(n, VMID, "stopped")
        r = n.request("PUT", f"/nodes/{n.name}/qemu/{VMID}/config", {"vga": vga})
        expect(r.status == 200, r)
        task(n, n.post(f"/nodes/{n.name}/qemu/{VMID}/status/start"))
        state["pid"] = wait_status(n, VMID, "running")["pid"]
        r = n.post(f"/nodes/{n.name}/qemu/{VMID}/vncproxy", {"websocket": 1})
        if vga == "serial1":  # not configured: refused as termproxy refuses it
            expect(r.status == 400 and "serial" in (r.json or {}).get("errors", {}), r)
    expect(r.status == 200 and f":vncproxy:{VMID}:" in r.data["upid"], r)
    vp = r.data
    ws = websocket(n, vp)
    try:
        expect(ws.accepted, ws.head)
        rfb = RFB(ws)
        w, h, name = rfb_handshake(ws, rfb, vp["ticket"])
        expect((w, h, name) == (640, 400, f"VM {VMID} serial0".encode()), (w, h, name))
        raw_update(ws, rfb, w, h, False)
        ws.s.settimeout(vmlib.READY_LIMIT)
        deadline = time.time() + vmlib.READY_LIMIT
        lit = False
        while not lit:
            expect(time.time() < deadline, "nothing drawn while the guest boots")
            lit = raw_update(ws, rfb, w, h, True)
        # typed until the shell runs it: the guest powers off
        line = "\npoweroff -f || echo o >/proc/sysrq-trigger\n"
        while vmlib.status(n, VMID)["status"] == "running":
            expect(time.time() < deadline, "the typed poweroff did not run")
            for ch in line:
                sym = 0xFF0D if ch == "\n" else ord(ch)
                ws.send(struct.pack(">BBHI", 4, 1, 0, sym) + struct.pack(">BBHI", 4, 0, 0, sym))
            time.sleep(2)
    finally:
        ws.close()
    st = n.wait_task(vp["upid"])
    expect(st["exitstatus"] == "OK", st)


if __name__ == "__main__":
    sys.exit(vmlib.vm_main("integration-vm-io-console"))
