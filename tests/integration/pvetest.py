"""Integration-test support: a real pved node on a temporary root and a free loopback port, an HTTPS
client that verifies the node's certificate against its own CA, and the case runner whose lines
tests/run counts ("ok NAME", "FAIL NAME: why", "skip NAME: why")."""

import base64
import hashlib
import http.client
import json
import os
import re
import shutil
import signal
import socket
import ssl
import struct
import subprocess
import sys
import tempfile
import time
import traceback
import urllib.parse

BIN = os.environ.get("PVED_BIN") or os.path.join(
    os.path.dirname(os.path.abspath(__file__)), "..", "..", "build", "bin")
TOP = os.environ.get("PVED_TOP") or os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..")


class Skip(Exception):
    pass


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def rss_kib(pid):
    """A process's resident memory (VmRSS), in KiB."""
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    return 0


def children_of(pid):
    """The direct children of pid, from /proc (only processes the test itself started descend from it)."""
    kids = []
    try:
        for tid in os.listdir(f"/proc/{pid}/task"):
            with open(f"/proc/{pid}/task/{tid}/children") as f:
                kids += [int(x) for x in f.read().split()]
    except FileNotFoundError:
        pass
    return kids


class Response:
    def __init__(self, status, reason, headers, body):
        self.status = status
        self.reason = reason
        self.headers = headers
        self.body = body
        try:
            self.json = json.loads(body) if body else None
        except ValueError:
            self.json = None

    @property
    def data(self):
        return self.json.get("data") if isinstance(self.json, dict) else None

    def __repr__(self):
        return f"<{self.status} {self.reason}: {self.body[:300]!r}>"


class Node:
    """A pved on a temporary root. Use as a context manager; it stops what it started, by PID."""

    def __init__(self, name="testnode", root=None, args=(), host="127.0.0.1", port=None, wrap=()):
        """host, port: where it listens; wrap: a command that runs pved (nsenter into a namespace)."""
        self.name = name
        self.args = list(args)
        self.host = host
        self.wrap = list(wrap)
        self.root = root or tempfile.mkdtemp(prefix="pved-test-")
        self.own_root = root is None
        if self.own_root:
            # as a node's / is: an unprivileged container's root (uid 100000) must reach its rootfs
            # below it (mkdtemp made it 0700; what is secret beneath has modes of its own)
            os.chmod(self.root, 0o755)
        self.port = port or free_port()
        # the SPICE proxy's port (a node's 3128), free here as the API's
        self.spice_port = free_port()
        self.proc = None
        self.ticket = None
        self.csrf = None

    def __enter__(self):
        self.start()
        return self

    def __exit__(self, *exc):
        self.stop()
        if self.own_root:
            shutil.rmtree(self.root, ignore_errors=True)

    def path(self, rel):
        return os.path.join(self.root, rel)

    def start(self, timeout=20):
        self.log = open(self.path("pved.log") if os.path.isdir(self.root) else os.devnull, "ab")
        self.proc = subprocess.Popen(
            [*self.wrap, os.path.join(BIN, "pved"), "--root", self.root, "--listen",
             f"{self.host}:{self.port}", "--spice-listen", f"{self.host}:{self.spice_port}",
             "--node", self.name, "--foreground", *self.args],
            stdout=self.log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)
        deadline = time.time() + timeout
        while time.time() < deadline:
            if self.proc.poll() is not None:
                raise AssertionError(f"pved exited with {self.proc.returncode}: {self.logtext()[-2000:]}")
            try:
                with socket.create_connection((self.host, self.port), timeout=0.5):
                    if os.path.exists(self.path("run/pved.sock")):
                        return
            except OSError:
                pass
            time.sleep(0.05)
        raise AssertionError(f"pved did not come up in {timeout} s: {self.logtext()[-2000:]}")

    def logtext(self):
        try:
            with open(self.path("pved.log"), errors="replace") as f:
                return f.read()
        except OSError:
            return ""

    def stop(self):
        if not self.proc or self.proc.poll() is not None:
            return
        fronts = children_of(self.proc.pid)
        self.proc.send_signal(signal.SIGTERM)
        try:
            self.proc.wait(10)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
        # The fronts leave when pved's socket closes; make sure, by their PIDs.
        deadline = time.time() + 5
        for pid in fronts:
            while time.time() < deadline and os.path.exists(f"/proc/{pid}") and not is_zombie(pid):
                time.sleep(0.05)
            if os.path.exists(f"/proc/{pid}") and not is_zombie(pid):
                os.kill(pid, signal.SIGKILL)

    def audit_lines(self):
        """The lines of the node's audit log (none before the first entry)."""
        try:
            with open(self.path("var/log/pve/audit.log")) as f:
                return f.read().splitlines()
        except FileNotFoundError:
            return []

    def audited(self, event, *words, user="admin@pve"):
        """The audit log has a line by user with event and every word, after the time and client."""
        for line in self.audit_lines():
            parts = line.split(" ", 3)
            if len(parts) == 4 and parts[2] == user and parts[3].startswith(event) and \
                    all(w in parts[3].split(" ") for w in words):
                return True
        return False

    def front_pids(self):
        return [p for p in children_of(self.proc.pid) if comm(p) == "pved-api"]

    @property
    def admin_password(self):
        with open(self.path("etc/pve/priv/initial-admin-password")) as f:
            return f.read().strip()

    def ssl_context(self):
        ctx = ssl.create_default_context(cafile=self.path("etc/pve/pve-root-ca.pem"))
        # the node certificate names the host, localhost and loopback; a namespace's address is
        # none of them, but the certificate must still be the node CA's
        ctx.check_hostname = self.host == "127.0.0.1"
        return ctx

    def websocket(self, path, ticket):
        """A websocket to path below /api2/json over TLS, with the ticket's cookie and the binary
        protocol, as xterm.js and noVNC open one: a WebSocketClient (see its accepted and head)."""
        raw = socket.create_connection((self.host, self.port), timeout=15)
        return WebSocketClient(self.ssl_context().wrap_socket(raw, server_hostname=self.host),
                               self.host, f"/api2/json{path}",
                               "Sec-WebSocket-Protocol: binary\r\n"
                               f"Cookie: PVEAuthCookie={urllib.parse.quote(ticket, safe='')}\r\n")

    def connection(self, timeout=15):
        return http.client.HTTPSConnection(self.host, self.port, context=self.ssl_context(),
                                           timeout=timeout)

    def request(self, method, path, params=None, ticket=None, csrf=None, token=None, headers=None,
                body=None, conn=None, json_body=False):
        """One API call below /api2/json; credentials default to the node's logged-in ticket."""
        hdrs = dict(headers or {})
        if ticket is None and token is None and self.ticket:
            ticket, csrf = self.ticket, self.csrf if csrf is None else csrf
        if ticket:
            hdrs["Cookie"] = "PVEAuthCookie=" + urllib.parse.quote(ticket, safe="")
        if csrf and method != "GET":
            hdrs["CSRFPreventionToken"] = csrf
        if token:
            hdrs["Authorization"] = "PVEAPIToken=" + token
        url = "/api2/json" + path
        if params and method in ("GET", "DELETE"):
            url += "?" + urllib.parse.urlencode(params)
        elif params is not None and body is None:
            if json_body:
                body = json.dumps(params)
                hdrs["Content-Type"] = "application/json"
            else:
                body = urllib.parse.urlencode(params)
                hdrs["Content-Type"] = "application/x-www-form-urlencoded"
        own = conn is None
        c = conn or self.connection()
        try:
            c.request(method, url, body=body, headers=hdrs)
            r = c.getresponse()
            data = r.read()
            return Response(r.status, r.reason, dict(r.getheaders()), data.decode(errors="replace"))
        finally:
            if own:
                c.close()

    def get(self, path, params=None, **kw):
        return self.request("GET", path, params, **kw)

    def post(self, path, params=None, **kw):
        return self.request("POST", path, params, **kw)

    def local_call(self, method, path, params):
        """One call over the node's local socket (root@pam), in pved's wire format: (status, data)."""
        s = socket.socket(socket.AF_UNIX)
        s.connect(self.path("run/pved.sock"))
        # A window as large as any answer here: no WINDOW frames needed.
        payload = json.dumps({"method": method, "path": path, "params": params,
                              "window": 1 << 24}).encode()
        s.sendall(struct.pack("<IHHI", len(payload), 1, 1, 7) + payload)
        buf, body, status = b"", b"", None
        while True:
            while len(buf) < 12:
                d = s.recv(65536)
                if not d:
                    raise AssertionError("pved closed the socket")
                buf += d
            ln, typ, flags, _ = struct.unpack("<IHHI", buf[:12])
            while len(buf) < 12 + ln:
                buf += s.recv(65536)
            p, buf = buf[12:12 + ln], buf[12 + ln:]
            if typ == 2:
                status, rlen = struct.unpack("<HH", p[:4])
                # flag 2: the body's length (u64) follows the reason
                body += p[4 + rlen + (8 if flags & 2 else 0):]
            else:
                body += p
            if flags & 1:
                break
        s.close()
        return status, json.loads(body)

    def login(self, user="admin@pve", password=None):
        r = self.post("/access/ticket", {"username": user,
                                         "password": password or self.admin_password}, ticket="")
        assert r.status == 200, r
        self.ticket = r.data["ticket"]
        self.csrf = r.data["CSRFPreventionToken"]
        return r

    def wait_task(self, upid, timeout=30):
        deadline = time.time() + timeout
        while time.time() < deadline:
            r = self.get(f"/nodes/{self.name}/tasks/{urllib.parse.quote(upid, safe='')}/status")
            assert r.status == 200, r
            if r.data["status"] == "stopped":
                return r.data
            time.sleep(0.1)
        raise AssertionError(f"task {upid} did not finish in {timeout} s")


def is_zombie(pid):
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().rsplit(")", 1)[1].split()[0] == "Z"
    except OSError:
        return True


def comm(pid):
    try:
        with open(f"/proc/{pid}/comm") as f:
            return f.read().strip()
    except OSError:
        return ""


class WebSocketClient:
    """An RFC 6455 client over a connected socket: the upgrade (a GET of path with extra header lines),
    masked frames out, unmasked frames in. head and accepted say how the upgrade went."""

    GUID = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11"

    def __init__(self, sock, host, path, headers=""):
        self.s = sock
        key = base64.b64encode(os.urandom(16)).decode()
        self.s.sendall((f"GET {path} HTTP/1.1\r\nHost: {host}\r\nUpgrade: websocket\r\n"
                        f"Connection: Upgrade\r\nSec-WebSocket-Key: {key}\r\n"
                        f"Sec-WebSocket-Version: 13\r\n{headers}\r\n").encode())
        self.buf = b""
        while b"\r\n\r\n" not in self.buf:
            chunk = self.s.recv(4096)
            if not chunk:
                break
            self.buf += chunk
        head, _, self.buf = self.buf.partition(b"\r\n\r\n")
        self.head = head.decode(errors="replace")
        want = base64.b64encode(hashlib.sha1((key + self.GUID).encode()).digest()).decode()
        self.accepted = (self.head.startswith("HTTP/1.1 101") and
                         f"Sec-WebSocket-Accept: {want}" in self.head)

    def send(self, data, opcode=2):
        mask = os.urandom(4)
        n = len(data)
        hdr = bytes([0x80 | opcode])
        if n < 126:
            hdr += bytes([0x80 | n])
        elif n < 65536:
            hdr += bytes([0x80 | 126]) + struct.pack(">H", n)
        else:
            hdr += bytes([0x80 | 127]) + struct.pack(">Q", n)
        self.s.sendall(hdr + mask + bytes(b ^ mask[i % 4] for i, b in enumerate(data)))

    def _need(self, n):
        while len(self.buf) < n:
            chunk = self.s.recv(65536)
            if not chunk:
                raise EOFError("connection closed")
            self.buf += chunk

    def recv(self):
        """One frame: (opcode, payload); self.fin tells whether it ends its message."""
        self._need(2)
        b0, b1 = self.buf[0], self.buf[1]
        n, off = b1 & 0x7F, 2
        if n == 126:
            self._need(4)
            n, off = struct.unpack(">H", self.buf[2:4])[0], 4
        elif n == 127:
            self._need(10)
            n, off = struct.unpack(">Q", self.buf[2:10])[0], 10
        self._need(off + n)
        payload, self.buf = self.buf[off:off + n], self.buf[off + n:]
        self.fin = bool(b0 & 0x80)
        return b0 & 0x0F, payload

    def read_until(self, pattern, timeout=20):
        """Frames' payloads until their bytes match pattern (a regular expression): all of them.
        EOFError at a close frame."""
        seen = b""
        deadline = time.time() + timeout
        while time.time() < deadline:
            op, data = self.recv()
            if op == 8:
                raise EOFError(f"closed; so far {seen[-300:]!r}")
            seen += data
            if re.search(pattern, seen):
                return seen
        raise AssertionError(f"no {pattern!r} in {seen[-300:]!r}")

    def recv_message(self):
        """One whole message, its fragments joined."""
        message = b""
        while True:
            message += self.recv()[1]
            if self.fin:
                return message

    def close(self):
        try:
            self.s.close()
        except OSError:
            pass


def open_files(pid, *needles):
    """The files a process holds open whose paths contain one of needles (an upload's temporary
    file: "template/iso", "pveupload")."""
    out = []
    for fd in os.listdir(f"/proc/{pid}/fd"):
        try:
            target = os.readlink(f"/proc/{pid}/fd/{fd}")
        except OSError:
            continue
        if any(x in target for x in needles):
            out.append(target)
    return out


CASES = []


def case(fn):
    CASES.append(fn)
    return fn


def expect(cond, what):
    if not cond:
        raise AssertionError(what)


def run(*args):
    only = sys.argv[1:]
    failed = 0
    for fn in CASES:
        if only and fn.__name__ not in only:
            continue
        try:
            fn(*args)
            print(f"ok {fn.__name__}", flush=True)
        except Skip as e:
            print(f"skip {fn.__name__}: {e}", flush=True)
        except Exception as e:  # a failing case must not stop the others
            failed += 1
            detail = "".join(traceback.format_exception(type(e), e, e.__traceback__)[-3:])
            print(f"FAIL {fn.__name__}: {e!r}", flush=True)
            print(detail, file=sys.stdout, flush=True)
            # what the subject of the cases can tell about the failure, and its repair so that one
            # failure is not also the next case's
            after = getattr(args[0], "after_failure", None) if args else None
            if after:
                after()
    return 1 if failed else 0


def pvecfs_node_main(first_life):
    """As root with FUSE, one node in two lives on one root: first on plain files, logged in as
    admin@pve, where first_life(n) runs and stops it; then on pvecfs (pved --pvecfs, local mode),
    logged in again, with every case run on it."""
    if os.geteuid() != 0:
        print("skip all: needs root")
        return 0
    if not os.access("/dev/fuse", os.R_OK | os.W_OK):
        print("skip all: no /dev/fuse")
        return 0
    with Node() as n:
        n.login()
        first_life(n)
        n.args = ["--pvecfs"]
        n.start()
        n.login()
        return run(n)


def node_main():
    """The usual main: as root, one node, logged in as admin@pve, every case run on it."""
    if os.geteuid() != 0:
        print("skip all: needs root")
        return 0
    with Node() as n:
        n.login()
        return run(n)
