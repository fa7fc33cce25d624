"""A SPICE client as far as the tests need one, as remote-viewer goes with Proxmox's spiceproxy answer:
CONNECT through the proxy with the answer's host, TLS with its CA (the subject checked against
host-subject), the main channel's link (REDQ), the password RSA-OAEP(SHA-1)-encrypted with the
link reply's public key, the link result, and the first main-channel message."""

import socket
import ssl
import struct

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


def link_main(t, password):
    """The main channel's link with the password: the link result, and (when 0) the type of the
    first message (SPICE_MSG_MAIN_INIT expected)."""
    # SpiceLinkMess: connection id, channel type and id, no capabilities (the plain ticket auth and
    # the full data header), caps offset = its own size
    mess = struct.pack("<IBBIII", 0, CHANNEL_MAIN, 0, 0, 0, 18)
    t.sendall(struct.pack("<IIII", REDQ, 2, 2, len(mess)) + mess)
    magic, major, _minor, size = struct.unpack("<IIII", recv_exact(t, 16))
    if magic != REDQ or major != 2:
        raise AssertionError(f"not a SPICE link reply: magic {magic:#x} major {major}")
    reply = recv_exact(t, size)
    error = struct.unpack_from("<I", reply)[0]
    if error != LINK_ERR_OK:
        return error, None
    key = serialization.load_der_public_key(reply[4:4 + TICKET_PUBKEY_BYTES])
    # the password as C has it (with its NUL), as spice-gtk encrypts it
    ticket = key.encrypt(password.encode() + b"\0",
                         padding.OAEP(mgf=padding.MGF1(hashes.SHA1()), algorithm=hashes.SHA1(),
                                      label=None))
    t.sendall(ticket)
    result = struct.unpack("<I", recv_exact(t, 4))[0]
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
