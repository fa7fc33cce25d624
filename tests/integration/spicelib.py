"""A SPICE client as far as the tests need one, as remote-viewer goes with Proxmox's spiceproxy answer:
CONNECT through the proxy with the answer's host, TLS with its CA (the subject checked against
host-subject), a channel's link (REDQ), the password RSA-OAEP(SHA-1)-encrypted with the link reply's
public key, the link result, and the first main-channel message; for the consoles (pved's
spiceterm), channels that stay: messages with the mini header, the acks and pongs a server waits
for, the display's surface and uncompressed draws, the inputs' scancodes."""

import socket
import ssl
import struct
import time

from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding

REDQ = 0x51444552  # "REDQ"
CHANNEL_MAIN = 1
MSG_MAIN_INIT = 103
LINK_ERR_OK = 0
TICKET_PUBKEY_BYTES = 162


class ProxyRefused(Exception):
    """The proxy answered something else than 200: its status line."""


def recv_exact(s, n):
    buf = b""
    while len(buf) < n:
        chunk = s.recv(n - len(buf))
        if not chunk:
            raise EOFError(f"connection closed after {len(buf)} of {n} bytes")
        buf += chunk
    return buf


def proxy_connect(proxy, target, timeout=10):
    """A socket through the proxy ("http://HOST:PORT") to target ("<host>:<port>"), or ProxyRefused
    with the status line (and the connection then closed by the proxy)."""
    hostport = proxy.split("://", 1)[-1].rstrip("/")
    host, port = hostport.rsplit(":", 1)
    s = socket.create_connection((host.strip("[]"), int(port)), timeout=timeout)
    s.sendall(f"CONNECT {target} HTTP/1.0\r\nHost: {target}\r\n\r\n".encode())
    head = b""
    while b"\r\n\r\n" not in head:
        chunk = s.recv(1)
        if not chunk:
            s.close()
            raise ProxyRefused(head.decode(errors="replace") or "closed without an answer")
        head += chunk
    line = head.split(b"\r\n", 1)[0].decode(errors="replace")
    if not line.startswith("HTTP/1.0 200"):
        # the proxy ends the connection after a refusal
        rest = s.recv(1)
        s.close()
        raise ProxyRefused(line + ("" if not rest else " (and more)"))
    return s


def spice_names(key):
    return {"organizationalUnitName": "OU", "commonName": "CN", "organizationName": "O",
            "countryName": "C", "localityName": "L", "stateOrProvinceName": "ST"}.get(key, key)


def tls(s, answer):
    """TLS with the answer's CA (its "\\n" are line breaks); the certificate's subject must be
    host-subject (the host is a ticket, so no name check)."""
    ctx = ssl.create_default_context(cadata=answer["ca"].replace("\\n", "\n"))
    ctx.check_hostname = False
    t = ctx.wrap_socket(s)
    cert = t.getpeercert()
    got = ",".join(f"{spice_names(k)}={v}" for rdn in cert["subject"] for k, v in rdn)
    if got != answer["host-subject"]:
        t.close()
        raise AssertionError(f"certificate subject {got!r}, host-subject {answer['host-subject']!r}")
    return t


def link(t, password, channel_type=CHANNEL_MAIN, connection_id=0, common_caps=0):
    """A channel's link with the password: the link result."""
    # SpiceLinkMess: connection id, channel type and id, the common capabilities (none: the plain
    # ticket auth and the full data header), caps offset = its own size
    caps = struct.pack("<I", common_caps) if common_caps else b""
    mess = struct.pack("<IBBIII", connection_id, channel_type, 0, 1 if caps else 0, 0, 18) + caps
    t.sendall(struct.pack("<IIII", REDQ, 2, 2, len(mess)) + mess)
    magic, major, _minor, size = struct.unpack("<IIII", recv_exact(t, 16))
    if magic != REDQ or major != 2:
        raise AssertionError(f"not a SPICE link reply: magic {magic:#x} major {major}")
    reply = recv_exact(t, size)
    error = struct.unpack_from("<I", reply)[0]
    if error != LINK_ERR_OK:
        return error
    key = serialization.load_der_public_key(reply[4:4 + TICKET_PUBKEY_BYTES])
    # the password as C has it (with its NUL), as spice-gtk encrypts it
    ticket = key.encrypt(password.encode() + b"\0",
                         padding.OAEP(mgf=padding.MGF1(hashes.SHA1()), algorithm=hashes.SHA1(),
                                      label=None))
    t.sendall(ticket)
    return struct.unpack("<I", recv_exact(t, 4))[0]


def link_main(t, password):
    """The main channel's link with the password: the link result, and (when 0) the type of the
    first message (SPICE_MSG_MAIN_INIT expected)."""
    result = link(t, password)
    if result != LINK_ERR_OK:
        return result, None
    # SpiceDataHeader: serial, type, size, sub list
    _serial, mtype, msize, _sub = struct.unpack("<QHII", recv_exact(t, 18))
    recv_exact(t, msize)
    return result, mtype


def connect(answer, proxy=None, password=None, target=None):
    """The whole way, as remote-viewer: (link result, first message type)."""
    s = proxy_connect(proxy or answer["proxy"], target or f"{answer['host']}:{answer['tls-port']}")
    t = tls(s, answer)
    try:
        return link_main(t, answer["password"] if password is None else password)
    finally:
        t.close()


# ---- channels that stay (the consoles) ----

COMMON_CAP_MINI_HEADER = 3
CHANNEL_DISPLAY, CHANNEL_INPUTS = 2, 3
MSG_SET_ACK, MSG_PING = 3, 4
MSGC_ACK_SYNC, MSGC_ACK, MSGC_PONG = 1, 2, 3
MSGC_DISPLAY_INIT = 101
MSG_DISPLAY_DRAW_COPY, MSG_DISPLAY_SURFACE_CREATE = 304, 314
MSGC_INPUTS_KEY_DOWN, MSGC_INPUTS_KEY_UP = 101, 102
IMAGE_TYPE_BITMAP = 0
BITMAP_FMT_32BIT, BITMAP_FMT_RGBA = 8, 9
BITMAP_FLAG_PAL_FROM_CACHE = 1


class LinkRefused(Exception):
    def __init__(self, code):
        super().__init__(f"link result {code}")
        self.code = code


class Channel:
    """A linked channel speaking the mini header: recv answers the acks and pings itself."""

    def __init__(self, sock):
        self.sock = sock
        self.buf = b""
        self.window = 0
        self.received = 0

    def take(self, n, timeout=20):
        deadline = time.time() + timeout
        while len(self.buf) < n:
            left = deadline - time.time()
            if left <= 0:
                raise TimeoutError(f"SPICE: only {len(self.buf)} of {n} bytes came")
            self.sock.settimeout(left)
            data = self.sock.recv(65536)
            if not data:
                raise EOFError("the SPICE server closed the channel")
            self.buf += data
        data, self.buf = self.buf[:n], self.buf[n:]
        return data

    def send(self, msg_type, body=b""):
        self.sock.sendall(struct.pack("<HI", msg_type, len(body)) + body)

    def recv(self, timeout=20):
        """The next message that is not an ack or a ping: (type, body)."""
        while True:
            msg_type, size = struct.unpack("<HI", self.take(6, timeout))
            body = self.take(size, timeout)
            self.received += 1
            if self.window and self.received % self.window == 0:
                self.send(MSGC_ACK)
            if msg_type == MSG_SET_ACK:
                generation, self.window = struct.unpack("<II", body[:8])
                self.received = 0
                self.send(MSGC_ACK_SYNC, struct.pack("<I", generation))
            elif msg_type == MSG_PING:
                self.send(MSGC_PONG, body[:12])
            else:
                return msg_type, body

    def close(self):
        try:
            self.sock.close()
        except OSError:
            pass


def open_channel(answer, password, channel_type, connection_id=0, host="127.0.0.1", timeout=10):
    """A channel straight to the answer's port (no proxy), linked with the mini header: a Channel,
    or LinkRefused with the server's code."""
    s = socket.create_connection((host, answer["tls-port"]), timeout=timeout)
    t = tls(s, answer)
    try:
        result = link(t, password, channel_type, connection_id, 1 << COMMON_CAP_MINI_HEADER)
        if result != LINK_ERR_OK:
            raise LinkRefused(result)
        return Channel(t)
    except BaseException:
        t.close()
        raise


def main_init(ch):
    """The main channel's init: the session id the other channels link with."""
    while True:
        t, body = ch.recv()
        if t == MSG_MAIN_INIT:
            return struct.unpack("<I", body[:4])[0]


def display_init(ch):
    """The display channel's init message: a small pixmap cache, no GLZ dictionary."""
    ch.send(MSGC_DISPLAY_INIT, struct.pack("<BqBi", 1, 1 << 20, 1, 1 << 20))


def surface_create(body):
    """SurfaceCreate: (surface id, width, height, format)."""
    return struct.unpack("<IIII", body[:16])


def draw_copy_bitmap(body):
    """A DrawCopy's uncompressed bitmap: (format, width, height, stride, data), or None for an
    image of another kind."""
    clip_type = body[20]  # after the surface id and the box
    off = 21
    if clip_type == 1:  # rects
        off += 4 + 16 * struct.unpack("<I", body[off:off + 4])[0]
    src = struct.unpack("<I", body[off:off + 4])[0]
    if not 0 < src < len(body):
        return None
    _iid, itype, _iflags, _w, _h = struct.unpack("<QBBII", body[src:src + 18])
    if itype != IMAGE_TYPE_BITMAP:
        return None
    p = src + 18
    fmt, flags, x, y, stride = struct.unpack("<BBIII", body[p:p + 14])
    p += 14
    p += 8 if flags & BITMAP_FLAG_PAL_FROM_CACHE else 4
    return fmt, x, y, stride, body[p:p + stride * y]


def lit_pixels(bitmap):
    """How many pixels of a 32-bit bitmap are not black (the terminal's background)."""
    fmt, x, y, stride, data = bitmap
    if fmt not in (BITMAP_FMT_32BIT, BITMAP_FMT_RGBA):
        return 0
    n = 0
    for row in range(y):
        line = data[row * stride:row * stride + 4 * x]
        n += sum(1 for i in range(0, len(line), 4) if line[i] or line[i + 1] or line[i + 2])
    return n


# set 1 scancodes of the characters the tests type (US layout, none shifted)
SCANCODES = {
    **{c: code for c, code in zip("qwertyuiop", range(0x10, 0x1a))},
    **{c: code for c, code in zip("asdfghjkl", range(0x1e, 0x27))},
    **{c: code for c, code in zip("zxcvbnm", range(0x2c, 0x33))},
    **{c: code for c, code in zip("1234567890", range(0x02, 0x0c))},
    "-": 0x0c, "=": 0x0d, " ": 0x39, "/": 0x35, ".": 0x34, "\n": 0x1c,
}


def type_text(ch, text):
    """Each character's key pressed and released on the inputs channel."""
    for c in text:
        code = SCANCODES[c]
        ch.send(MSGC_INPUTS_KEY_DOWN, struct.pack("<I", code))
        ch.send(MSGC_INPUTS_KEY_UP, struct.pack("<I", code | 0x80))
