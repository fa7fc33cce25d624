"""A container's console over VNC on a real pved, as the web interface's noVNC reaches it:
vncproxy's answer (Proxmox's fields, a `vncproxy` task), its port through vncwebsocket over TLS,
an RFB client written here: the handshake with the VNC ticket as the password, a full framebuffer
update of the size announced (80x25 cells of the 8x16 font), keys typed into the busybox
container's shell on tty1 (`touch /tmp/vnc-was-here` and Return, checked through the exec API), an
incremental update with lit pixels after the output; leaving keeps the container running; a wrong
password refused with RFB's reason. Runs as root; every container is killed by PID at the end."""

import os
import struct
import sys
import time
import urllib.parse
import warnings

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from pvetest import case, expect  # noqa: E402
import vmlib  # noqa: E402

VMID = 440


def vnc_key(password, challenge):
    """RFB's VNC authentication: DES-ECB of the challenge under the password's first 8 bytes
    (padded with NULs), the bits of each key byte mirrored."""
    from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes
    raw = password.encode()[:8] + bytes(8 - min(8, len(password.encode())))
    key = bytes(sum(((b >> i) & 1) << (7 - i) for i in range(8)) for b in raw)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        cipher = Cipher(algorithms.TripleDES(key), modes.ECB()).encryptor()
    return cipher.update(challenge) + cipher.finalize()


class Stream:
    """The RFB byte stream inside the websocket's frames."""

    def __init__(self, ws):
        self.ws, self.pending = ws, b""

    def take(self, n, timeout=20):
        deadline = time.time() + timeout
        while len(self.pending) < n:
            expect(time.time() < deadline, f"RFB: only {len(self.pending)} of {n} bytes came")
            op, payload = self.ws.recv()
            if op == 8:
                raise EOFError(f"the server closed after {self.pending!r}")
            self.pending += payload
        data, self.pending = self.pending[:n], self.pending[n:]
        return data

    def u8(self):
        return self.take(1)[0]

    def u32(self):
        return struct.unpack(">I", self.take(4))[0]


def open_console(n):
    r = n.post(f"/nodes/{n.name}/lxc/{VMID}/vncproxy", {"websocket": 1})
    expect(r.status == 200, r)
    vp = r.data
    expect(5900 <= vp["port"] <= 5999 and vp["ticket"].startswith("PVEVNC:") and
           "BEGIN CERTIFICATE" in vp["cert"] and "password" not in vp, vp)
    expect(f":vncproxy:{VMID}:{vp['user']}:" in vp["upid"], vp)
    q = urllib.parse.urlencode({"port": vp["port"], "vncticket": vp["ticket"]})
    ws = n.websocket(f"/nodes/{n.name}/lxc/{VMID}/vncwebsocket?{q}", n.ticket)
    expect(ws.accepted, ws.head)
    return vp, ws, Stream(ws)


def authenticate(ws, rfb, password):
    """Version 3.8, security type 2, the DES answer: SecurityResult's status."""
    expect(rfb.take(12) == b"RFB 003.008\n", "no RFB 3.8 greeting")
    ws.send(b"RFB 003.008\n")
    types = rfb.take(rfb.u8())
    expect(types == b"\x02", f"security types {list(types)}")
    ws.send(b"\x02")
    ws.send(vnc_key(password, rfb.take(16)))
    return rfb.u32()


def update(ws, rfb, w, h, incremental):
    """Asks for the whole screen; the rectangles of the update: [(x, y, w, h, pixels)]."""
    ws.send(struct.pack(">BBHHHH", 3, int(incremental), 0, 0, w, h))
    expect(rfb.u8() == 0, "not a FramebufferUpdate")
    rfb.take(1)
    rects = []
    for _ in range(struct.unpack(">H", rfb.take(2))[0]):
        x, y, rw, rh, enc = struct.unpack(">HHHHi", rfb.take(12))
        expect(enc == 0, f"encoding {enc}, not Raw")
        rects.append((x, y, rw, rh, rfb.take(rw * rh * 4)))
    return rects


def type_keys(ws, text):
    for ch in text:
        sym = 0xFF0D if ch == "\n" else ord(ch)
        ws.send(struct.pack(">BBHI", 4, 1, 0, sym) + struct.pack(">BBHI", 4, 0, 0, sym))


@case
def vnc_console_of_a_container(n):
    vmlib.start_busybox_ct(n, VMID, "vnc")
    vp, ws, rfb = open_console(n)
    try:
        expect(authenticate(ws, rfb, vp["ticket"]) == 0, "VNC authentication failed")
        ws.send(b"\x01")  # ClientInit, shared
        w, h = struct.unpack(">HH", rfb.take(4))
        pixfmt = rfb.take(16)
        name = rfb.take(rfb.u32())
        expect((w, h) == (640, 400) and name == f"CT {VMID} console".encode(), (w, h, name))
        expect(pixfmt[0] == 32 and pixfmt[3] == 1, pixfmt.hex())
        rects = update(ws, rfb, w, h, False)
        expect([r[:4] for r in rects] == [(0, 0, w, h)], [r[:4] for r in rects])

        type_keys(ws, "touch /tmp/vnc-was-here\n")
        lit = False
        deadline = time.time() + 20
        while not lit and time.time() < deadline:
            for _, _, _, _, px in update(ws, rfb, w, h, True):
                lit = lit or any(px[i] or px[i + 1] or px[i + 2] for i in range(0, len(px), 4))
        expect(lit, "no lit pixels after the shell's echo")
        expect(vmlib.ct_file_appears(n, VMID, "/tmp/vnc-was-here"), "the typed command did not run")
    finally:
        ws.close()
    st = n.wait_task(vp["upid"])
    expect(st["exitstatus"] == "OK", st)
    r = n.get(f"/nodes/{n.name}/lxc/{VMID}/status/current")
    expect(r.data["status"] == "running", "leaving the console stopped the container")


@case
def wrong_password_refused(n):
    vp, ws, rfb = open_console(n)
    try:
        expect(authenticate(ws, rfb, "not-the-ticket") == 1, "a wrong password was let in")
        expect(rfb.take(rfb.u32()) == b"Authentication failed", "no reason")
    finally:
        ws.close()
    st = n.wait_task(vp["upid"])
    expect(st["exitstatus"] != "OK" and "authentication" in st["exitstatus"], st)


@case
def stopped_container_refused(n):
    vmlib.task(n, n.post(f"/nodes/{n.name}/lxc/{VMID}/status/stop"))
    r = n.post(f"/nodes/{n.name}/lxc/{VMID}/vncproxy", {"websocket": 1})
    expect(r.status == 400 and "not running" in r.body, r)


if __name__ == "__main__":
    sys.exit(vmlib.ct_main())
