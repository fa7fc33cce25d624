"""A small SPICE client for the tests: TLS checked against a CA, the link of a channel (REDQ header,
SpiceLinkMess, the password RSA-OAEP-SHA1-encrypted with the link reply's key, the link result),
messages with the mini header, the acks and pongs a server waits for, and the display and inputs
messages the console tests read and send. Only what pved's spiceterm speaks; no compression."""

import socket
import ssl
import struct
import time

MAGIC = b"REDQ"
VERSION_MAJOR, VERSION_MINOR = 2, 2
COMMON_CAP_MINI_HEADER = 3

CHANNEL_MAIN, CHANNEL_DISPLAY, CHANNEL_INPUTS = 1, 2, 3

# common messages
MSG_SET_ACK, MSG_PING = 3, 4
MSGC_ACK_SYNC, MSGC_ACK, MSGC_PONG = 1, 2, 3
# main, display, inputs
MSG_MAIN_INIT = 103
MSGC_DISPLAY_INIT = 101
MSG_DISPLAY_DRAW_COPY, MSG_DISPLAY_SURFACE_CREATE = 304, 314
MSGC_INPUTS_KEY_DOWN, MSGC_INPUTS_KEY_UP = 101, 102

IMAGE_TYPE_BITMAP = 0
BITMAP_FMT_32BIT, BITMAP_FMT_RGBA = 8, 9
BITMAP_FLAG_PAL_FROM_CACHE = 1


class LinkError(Exception):
    def __init__(self, code):
        super().__init__(f"link result {code}")
        self.code = code


def tls_context(ca_pem):
    ctx = ssl.create_default_context(cadata=ca_pem)
    # remote-viewer checks host-subject, not a host name: the test checks the subject itself
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_REQUIRED
    return ctx


class Channel:
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
        """The next message that is not an ack or ping (those are answered here): (type, body)."""
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
                continue
            if msg_type == MSG_PING:
                self.send(MSGC_PONG, body[:12])
                continue
            return msg_type, body

    def close(self):
        try:
            self.sock.close()
        except OSError:
            pass


def link(host, port, ca_pem, password, channel_type, connection_id=0, timeout=10):
    """A channel linked with password: the Channel, and the peer certificate (DER). LinkError with
    the server's code when it refuses."""
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import padding

    raw = socket.create_connection((host, port), timeout=timeout)
    sock = tls_context(ca_pem).wrap_socket(raw)
    ch = Channel(sock)
    try:
        caps = struct.pack("<I", 1 << COMMON_CAP_MINI_HEADER)
        mess = struct.pack("<IBBIII", connection_id, channel_type, 0, 1, 0, 18) + caps
        sock.sendall(MAGIC + struct.pack("<III", VERSION_MAJOR, VERSION_MINOR, len(mess)) + mess)
        magic, major, _minor, size = struct.unpack("<4sIII", ch.take(16, timeout))
        if magic != MAGIC or major != VERSION_MAJOR or size < 4 + 162 + 12 or size > 4096:
            raise ValueError(f"not a SPICE link reply: {magic!r} {major} {size}")
        reply = ch.take(size, timeout)
        error = struct.unpack("<I", reply[:4])[0]
        if error != 0:
            raise LinkError(error)
        key = serialization.load_der_public_key(reply[4:4 + 162])
        secret = key.encrypt(password.encode() + b"\0",
                             padding.OAEP(mgf=padding.MGF1(hashes.SHA1()), algorithm=hashes.SHA1(),
                                          label=None))
        sock.sendall(secret)
        result = struct.unpack("<I", ch.take(4, timeout))[0]
        if result != 0:
            raise LinkError(result)
        return ch, sock.getpeercert()
    except BaseException:
        ch.close()
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
    """A DrawCopy's box (left, top, right, bottom) and its uncompressed bitmap: (format, width,
    height, stride, data), or None for an image of another kind."""
    top, left, bottom, right = struct.unpack("<iiii", body[4:20])
    clip_type = body[20]
    off = 21
    if clip_type == 1:  # rects
        off += 4 + 16 * struct.unpack("<I", body[off:off + 4])[0]
    src = struct.unpack("<I", body[off:off + 4])[0]
    box = (left, top, right, bottom)
    if not 0 < src < len(body):
        return box, None
    _iid, itype, _iflags, _w, _h = struct.unpack("<QBBII", body[src:src + 18])
    if itype != IMAGE_TYPE_BITMAP:
        return box, None
    p = src + 18
    fmt, flags, x, y, stride = struct.unpack("<BBIII", body[p:p + 14])
    p += 14
    p += 8 if flags & BITMAP_FLAG_PAL_FROM_CACHE else 4
    return box, (fmt, x, y, stride, body[p:p + stride * y])


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
