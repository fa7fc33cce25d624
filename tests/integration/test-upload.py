"""Uploads and file:// imports on a real pved: a 64 MiB ISO with its sha256 through python-requests (as
proxmoxer sends it) and through curl -F, a wrong checksum (task error, no file), an interrupted upload (no
file, no open temporary file), a 2 GiB upload generated on the fly with the RSS of pved and pved-api
sampled throughout (each must grow less than 16 MiB), and download-url from a file:// URL."""

import hashlib
import os
import socket
import ssl
import subprocess
import sys
import threading
import time
import urllib.parse

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from pvetest import Node, Skip, case, expect, open_files, rss_kib, run  # noqa: E402

MIB = 1 << 20


def iso_dir(n):
    return n.path("var/lib/vz/template/iso")


def listing(n):
    d = iso_dir(n)
    return sorted(os.listdir(d)) if os.path.isdir(d) else []


def make_file(path, size):
    h = hashlib.sha256()
    with open(path, "wb") as f:
        left = size
        while left:
            chunk = os.urandom(min(left, 4 * MIB))
            h.update(chunk)
            f.write(chunk)
            left -= len(chunk)
    return h.hexdigest()


def sha256_file(path):
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(4 * MIB), b""):
            h.update(chunk)
    return h.hexdigest()


def auth_headers(n):
    return {"Cookie": "PVEAuthCookie=" + urllib.parse.quote(n.ticket, safe=""),
            "CSRFPreventionToken": n.csrf}


def upload_url(n, storage="local"):
    return f"https://127.0.0.1:{n.port}/api2/json/nodes/{n.name}/storage/{storage}/upload"


def open_fds_deleted(pid):
    """Files pved holds open that have no name: an upload's temporary file left behind."""
    return open_files(pid, "template/iso", "pveupload")


def task_ok(n, upid):
    st = n.wait_task(upid, timeout=120)
    return st.get("exitstatus"), st


@case
def upload_with_requests(n):
    import requests
    src = n.path("src-64m.iso")
    digest = make_file(src, 64 * MIB)
    with open(src, "rb") as f:
        r = requests.post(upload_url(n), headers=auth_headers(n), verify=n.path("etc/pve/pve-root-ca.pem"),
                          data={"content": "iso", "checksum": digest, "checksum-algorithm": "sha256"},
                          files={"filename": ("req.iso", f, "application/octet-stream")})
    expect(r.status_code == 200, f"{r.status_code} {r.text}")
    upid = r.json()["data"]
    expect(":imgcopy:" in upid, upid)
    status, st = task_ok(n, upid)
    expect(status == "OK", st)
    path = os.path.join(iso_dir(n), "req.iso")
    expect(os.path.getsize(path) == 64 * MIB and sha256_file(path) == digest, "content differs")
    expect(listing(n) == ["req.iso"], listing(n))
    # The volume is listed as content.
    c = n.get(f"/nodes/{n.name}/storage/local/content", {"content": "iso"})
    expect(any(v["volid"] == "local:iso/req.iso" for v in c.data), c)
    # The same name again replaces the file, as Proxmox's upload does (Ansible's proxmox_template
    # with force: true relies on it).
    src2 = n.path("src-1m.iso")
    digest2 = make_file(src2, MIB)
    with open(src2, "rb") as f:
        r = requests.post(upload_url(n), headers=auth_headers(n), verify=n.path("etc/pve/pve-root-ca.pem"),
                          data={"content": "iso"}, files={"filename": ("req.iso", f)})
    expect(r.status_code == 200, f"{r.status_code} {r.text}")
    expect(task_ok(n, r.json()["data"])[0] == "OK", r.text)
    expect(sha256_file(path) == digest2, "existing file not replaced")
    expect(listing(n) == ["req.iso"], listing(n))


@case
def upload_with_curl(n):
    src = n.path("src-64m.iso")
    if not os.path.exists(src):
        make_file(src, 64 * MIB)
    digest = sha256_file(src)
    h = auth_headers(n)
    out = subprocess.run(
        ["curl", "-sS", "--cacert", n.path("etc/pve/pve-root-ca.pem"), "-H", "Cookie: " + h["Cookie"],
         "-H", "CSRFPreventionToken: " + h["CSRFPreventionToken"], "-F", "content=iso",
         "-F", "checksum-algorithm=sha256", "-F", "checksum=" + digest,
         "-F", f"filename=@{src};filename=curl.iso", upload_url(n)],
        capture_output=True, text=True, timeout=120)
    expect(out.returncode == 0 and '"data":"UPID:' in out.stdout, out)
    import json
    upid = json.loads(out.stdout)["data"]
    status, st = task_ok(n, upid)
    expect(status == "OK", st)
    expect(sha256_file(os.path.join(iso_dir(n), "curl.iso")) == digest, "content differs")


@case
def wrong_checksum_leaves_nothing(n):
    import requests
    before = listing(n)
    r = requests.post(upload_url(n), headers=auth_headers(n), verify=n.path("etc/pve/pve-root-ca.pem"),
                      data={"content": "iso", "checksum": "0" * 64, "checksum-algorithm": "sha256"},
                      files={"filename": ("bad.iso", os.urandom(3 * MIB))})
    expect(r.status_code == 200, f"{r.status_code} {r.text}")
    status, st = task_ok(n, r.json()["data"])
    expect(status != "OK" and "checksum mismatch" in status, st)
    expect(listing(n) == before, listing(n))
    expect(not open_fds_deleted(n.proc.pid), open_fds_deleted(n.proc.pid))


@case
def bad_requests_refused(n):
    import requests
    ca = n.path("etc/pve/pve-root-ca.pem")
    before = listing(n)
    # Wrong extension, unknown content type, a storage that does not exist, no file, no permission.
    for data, files, storage, want in [
        ({"content": "iso"}, {"filename": ("x.txt", b"abc")}, "local", 400),
        ({"content": "images"}, {"filename": ("x.iso", b"abc")}, "local", 400),
        ({"content": "iso"}, {"filename": ("x.iso", b"abc")}, "nosuch", 500),
        ({"content": "iso", "filename": "x.iso"}, None, "local", 400),
        ({"content": "iso", "checksum": "ab"}, {"filename": ("x.iso", b"abc")}, "local", 400),
        ({"content": "iso"}, {"filename": ("../../x.iso", b"abc")}, "local", 200),
    ]:
        r = requests.post(upload_url(n, storage), headers=auth_headers(n), verify=ca, data=data,
                          files=files)
        expect(r.status_code == want, f"{data} {storage}: {r.status_code} {r.text}")
        if want == 200:
            # The client's path is cut to its file name, as in Proxmox.
            expect(task_ok(n, r.json()["data"])[0] == "OK", r.text)
            os.unlink(os.path.join(iso_dir(n), "x.iso"))
    # A form body on another path is still refused, as before.
    r = requests.post(f"https://127.0.0.1:{n.port}/api2/json/nodes/{n.name}/storage/local/content",
                      headers=auth_headers(n), verify=ca, files={"filename": ("x.iso", b"abc")})
    expect(r.status_code == 501, f"{r.status_code} {r.text}")
    # Without a ticket: 401, nothing written.
    r = requests.post(upload_url(n), verify=ca, data={"content": "iso"},
                      files={"filename": ("y.iso", b"abc")})
    expect(r.status_code == 401, r.status_code)
    expect(listing(n) == before, listing(n))


def raw_upload_conn(n):
    ctx = ssl.create_default_context(cafile=n.path("etc/pve/pve-root-ca.pem"))
    s = socket.create_connection(("127.0.0.1", n.port), timeout=120)
    return ctx.wrap_socket(s, server_hostname="127.0.0.1")


def multipart_parts(name, filename, fields):
    b = "----pvedtestboundary7MA4YWxkTrZu0gW"
    pre = "".join(f"--{b}\r\nContent-Disposition: form-data; name=\"{k}\"\r\n\r\n{v}\r\n"
                  for k, v in fields.items())
    pre += (f"--{b}\r\nContent-Disposition: form-data; name=\"{name}\"; filename=\"{filename}\"\r\n"
            "Content-Type: application/octet-stream\r\n\r\n")
    post = f"\r\n--{b}--\r\n"
    return b, pre.encode(), post.encode()


def send_head(n, s, boundary, length):
    h = auth_headers(n)
    head = (f"POST /api2/json/nodes/{n.name}/storage/local/upload HTTP/1.1\r\nHost: 127.0.0.1\r\n"
            f"Cookie: {h['Cookie']}\r\nCSRFPreventionToken: {h['CSRFPreventionToken']}\r\n"
            f"Content-Type: multipart/form-data; boundary={boundary}\r\nContent-Length: {length}\r\n\r\n")
    s.sendall(head.encode())


@case
def interrupted_upload_leaves_nothing(n):
    before = listing(n)
    b, pre, post = multipart_parts("filename", "cut.iso", {"content": "iso"})
    size = 64 * MIB
    s = raw_upload_conn(n)
    send_head(n, s, b, len(pre) + size + len(post))
    s.sendall(pre)
    chunk = b"\0" * MIB
    for _ in range(size // MIB // 2):
        s.sendall(chunk)
    time.sleep(0.3)
    # While it runs, the file exists only unnamed (or hidden): nothing under its name.
    expect("cut.iso" not in listing(n), listing(n))
    s.close()
    deadline = time.time() + 5
    while time.time() < deadline and open_fds_deleted(n.proc.pid):
        time.sleep(0.1)
    expect(not open_fds_deleted(n.proc.pid), open_fds_deleted(n.proc.pid))
    expect(listing(n) == before, listing(n))


@case
def large_upload_memory_flat(n):
    st = os.statvfs(n.root)
    free = st.f_bavail * st.f_frsize
    size = 2 << 30
    if free < size + (2 << 30):
        size = 1 << 30
        print(f"# disk space short ({free >> 20} MiB free): 1 GiB upload instead of 2 GiB", flush=True)
    if free < size + (512 << 20):
        raise Skip("not enough disk space for a large upload")
    fronts = []
    for _ in range(50):
        fronts = n.front_pids()
        if fronts:
            break
        time.sleep(0.1)
    expect(fronts, "no pved-api process")
    pids = {"pved": n.proc.pid, "pved-api": fronts[0]}
    base = {k: rss_kib(p) for k, p in pids.items()}
    peak = dict(base)
    done = threading.Event()

    def sample():
        while not done.is_set():
            for k, p in pids.items():
                peak[k] = max(peak[k], rss_kib(p))
            time.sleep(0.05)

    t = threading.Thread(target=sample)
    t.start()
    b, pre, post = multipart_parts("filename", "big.iso", {"content": "iso"})
    s = raw_upload_conn(n)
    try:
        start = time.time()
        send_head(n, s, b, len(pre) + size + len(post))
        s.sendall(pre)
        chunk = b"\0" * (4 * MIB)
        for _ in range(size // len(chunk)):
            s.sendall(chunk)
        s.sendall(post)
        resp = b""
        while b"\r\n\r\n" not in resp or not resp.rstrip().endswith(b"}"):
            d = s.recv(65536)
            if not d:
                break
            resp += d
        secs = time.time() - start
    finally:
        s.close()
        done.set()
        t.join()
    expect(resp.startswith(b"HTTP/1.1 200"), resp[:300])
    import json
    upid = json.loads(resp.split(b"\r\n\r\n", 1)[1])["data"]
    expect(task_ok(n, upid)[0] == "OK", upid)
    path = os.path.join(iso_dir(n), "big.iso")
    expect(os.path.getsize(path) == size, os.path.getsize(path))
    grow = {k: (peak[k] - base[k]) / 1024 for k in pids}
    print(f"# {size >> 20} MiB upload in {secs:.1f} s ({size / MIB / secs:.0f} MiB/s); RSS growth "
          f"pved {grow['pved']:.1f} MiB, pved-api {grow['pved-api']:.1f} MiB", flush=True)
    os.unlink(path)
    expect(grow["pved"] < 16 and grow["pved-api"] < 16, grow)


@case
def download_url_from_file(n):
    src = n.path("src-dl.iso")
    digest = make_file(src, 5 * MIB + 123)
    base = f"/nodes/{n.name}/storage/local/download-url"
    # admin@pve is not root@pam: a file:// URL is refused.
    r = n.post(base, {"url": "file://" + src, "content": "iso", "filename": "dl.iso"})
    expect(r.status == 403, r)
    # root@pam: over the local socket.
    r = n.local_call("POST", base, {"url": "file://" + src, "content": "iso", "filename": "dl.iso",
                                     "checksum": digest, "checksum-algorithm": "sha256"})
    expect(r[0] == 200, r)
    expect(task_ok(n, r[1]["data"])[0] == "OK", r)
    expect(sha256_file(os.path.join(iso_dir(n), "dl.iso")) == digest, "content differs")
    # A wrong checksum: task error, no file.
    r = n.local_call("POST", base, {"url": "file://" + src, "content": "iso", "filename": "dl2.iso",
                                     "checksum": "1" * 64, "checksum-algorithm": "sha256"})
    expect(r[0] == 200, r)
    status = task_ok(n, r[1]["data"])[0]
    expect("checksum mismatch" in status, status)
    expect("dl2.iso" not in listing(n), listing(n))
    # Not a file URL, not a file, an existing target.
    for url, fn in [("https://example.com/x.iso", "x.iso"), ("file:///nonexistent/x.iso", "x.iso"),
                    ("file://" + src, "dl.iso"), ("file://relative/x.iso", "x.iso")]:
        r = n.local_call("POST", base, {"url": url, "content": "iso", "filename": fn})
        expect(r[0] in (400, 409), r)
    expect(sorted(listing(n)) == sorted(set(listing(n))) and "x.iso" not in listing(n), listing(n))


# ---- the form is parsed in pved-api --------------------------------------------------------------------

def raw_upload(n, body, boundary, extra_headers=""):
    """POSTs body as an upload; returns (status line, parsed JSON or None)."""
    import json
    s = raw_upload_conn(n)
    try:
        h = auth_headers(n)
        head = (f"POST /api2/json/nodes/{n.name}/storage/local/upload HTTP/1.1\r\nHost: 127.0.0.1\r\n"
                f"Cookie: {h['Cookie']}\r\nCSRFPreventionToken: {h['CSRFPreventionToken']}\r\n"
                f"Content-Type: multipart/form-data; boundary={boundary}\r\nContent-Length: {len(body)}\r\n"
                f"Connection: close\r\n{extra_headers}\r\n")
        s.sendall(head.encode() + body)
        resp = b""
        while True:
            d = s.recv(65536)
            if not d:
                break
            resp += d
    finally:
        s.close()
    head, _, rest = resp.partition(b"\r\n\r\n")
    try:
        return head.split(b"\r\n")[0], json.loads(rest)
    except ValueError:
        return head.split(b"\r\n")[0], None


@case
def malformed_forms_refused_by_the_front(n):
    before = listing(n)
    b = "xyzBOUNDARYzyx"
    part = lambda name, value, extra="": (f"--{b}\r\nContent-Disposition: form-data; name=\"{name}\"{extra}\r\n\r\n"
                                          .encode() + value + b"\r\n")
    file_part = (f"--{b}\r\nContent-Disposition: form-data; name=\"filename\"; filename=\"f.iso\"\r\n"
                 "Content-Type: application/octet-stream\r\n\r\n").encode() + b"data\r\n"
    end = f"--{b}--\r\n".encode()
    for body, want, param in [
        (part("content", b"iso\x00x") + file_part + end, 400, "content"),    # NUL
        (part("content", b"iso\xff") + file_part + end, 400, "content"),     # invalid UTF-8
        (part("content", b"x" * 5000) + file_part + end, 400, "content"),     # a field too long
        (part("content", b"iso") + file_part + part("checksum", b"ab") + end, 400, None),  # after the file
        (part("content", b"iso") + file_part + file_part + end, 400, None),  # two files
        (part("content", b"iso") + file_part, 400, None),                     # no close delimiter
        (b"no multipart at all", 400, None),
    ]:
        status, j = raw_upload(n, body, b)
        expect(status.startswith(b"HTTP/1.1 %d" % want), f"{body[:80]!r}: {status} {j}")
        if param:
            expect(j and param in (j.get("errors") or {}), f"{body[:80]!r}: {j}")
    # Not a form at all: 400, once authentication and permission are answered (401 without them).
    h = auth_headers(n)
    for creds, want in ((f"Cookie: {h['Cookie']}\r\nCSRFPreventionToken: {h['CSRFPreventionToken']}\r\n",
                         b"HTTP/1.1 400"), ("", b"HTTP/1.1 401")):
        s = raw_upload_conn(n)
        s.sendall((f"POST /api2/json/nodes/{n.name}/storage/local/upload HTTP/1.1\r\nHost: x\r\n{creds}"
                   "Content-Type: application/octet-stream\r\nContent-Length: 3\r\n"
                   "Connection: close\r\n\r\nabc").encode())
        resp = s.recv(65536)
        s.close()
        expect(resp.startswith(want), resp[:200])
    expect(listing(n) == before, listing(n))
    expect(not open_fds_deleted(n.proc.pid), open_fds_deleted(n.proc.pid))


@case
def pved_checks_form_frames_itself(n):
    """The local socket has no front: pved re-checks the frames of a form."""
    import json
    import struct
    s = socket.socket(socket.AF_UNIX)
    s.settimeout(10)
    s.connect(n.path("run/pved.sock"))
    payload = json.dumps({"method": "POST", "path": f"/nodes/{n.name}/storage/local/upload", "params": {},
                          "upload": True, "upload_length": 100, "window": 1 << 20}).encode()
    s.sendall(struct.pack("<IHHI", len(payload), 1, 1, 9) + payload)
    hdr = s.recv(12, socket.MSG_WAITALL)
    ln, typ, flags, _ = struct.unpack("<IHHI", hdr)
    expect(typ == 6, f"frame type {typ}, not CONTINUE")
    field = struct.pack("<H", 7) + b"content" + b"iso\xff"
    s.sendall(struct.pack("<IHHI", len(field), 8, 0, 9) + field)
    hdr = s.recv(12, socket.MSG_WAITALL)
    ln, typ, flags, _ = struct.unpack("<IHHI", hdr)
    p = s.recv(ln, socket.MSG_WAITALL)
    s.close()
    expect(typ == 2, f"frame type {typ}, not RESPONSE")
    status, rlen = struct.unpack("<HH", p[:4])
    body = json.loads(p[4 + rlen + (8 if flags & 2 else 0):])
    expect(status == 400 and "content" in body.get("errors", {}), (status, body))


# ---- space and time on a small file system ----------------------------------------------------------------

TMPFS = None


class TmpfsNode:
    """A node whose root is a small tmpfs the test mounts (and unmounts): etc/pve and the local storage
    share it. Uploads there must average 64 KiB/s after 3 s."""

    def __init__(self, size_mib=48):
        import tempfile
        self.mnt = tempfile.mkdtemp(prefix="pved-tmpfs-")
        r = subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={size_mib}m", "tmpfs", self.mnt],
                           capture_output=True, text=True)
        if r.returncode != 0:
            os.rmdir(self.mnt)
            raise Skip(f"cannot mount a tmpfs: {r.stderr.strip()}")
        os.environ.update(PVED_UPLOAD_MIN_RATE="65536", PVED_UPLOAD_RATE_GRACE="3")
        try:
            self.node = Node(name="tmpfsnode", root=self.mnt)
            self.node.start()
        except Exception:
            self.close()
            raise
        finally:
            del os.environ["PVED_UPLOAD_MIN_RATE"], os.environ["PVED_UPLOAD_RATE_GRACE"]
        self.node.login()

    def free(self):
        st = os.statvfs(self.mnt)
        return st.f_bavail * st.f_frsize

    def close(self):
        node = getattr(self, "node", None)
        if node:
            node.stop()
            if getattr(node, "log", None):
                node.log.close()  # it lives on the tmpfs
        r = subprocess.run(["umount", self.mnt], capture_output=True, text=True)
        if r.returncode == 0:
            os.rmdir(self.mnt)
        else:
            print(f"# cannot unmount {self.mnt}: {r.stderr.strip()}", flush=True)


def tmpfs_node():
    global TMPFS
    if TMPFS is None:
        TMPFS = TmpfsNode()
    return TMPFS


def start_trickle(m, declared):
    """An upload that declares `declared` bytes and sends only its form's start: (socket, bytes sent)."""
    b, pre, post = multipart_parts("filename", "trickle.iso", {"content": "iso"})
    s = raw_upload_conn(m)
    s.settimeout(15)
    send_head(m, s, b, declared)
    s.sendall(pre + b"\0" * 1024)
    return s


def read_status(s):
    resp = b""
    while b"\r\n" not in resp:
        d = s.recv(65536)
        if not d:
            break
        resp += d
    return resp.split(b"\r\n")[0]


@case
def trickling_upload_holds_no_space(n):
    t = tmpfs_node()
    m = t.node
    free = t.free()
    # All the free space, declared: it passes the check, and must not be taken before it comes.
    s = start_trickle(m, free)
    try:
        time.sleep(0.8)
        expect(t.free() > free - (2 << 20), f"{(free - t.free()) >> 20} MiB held by a 1 KiB upload")
        # Config writes on the same file system go on.
        r = m.post("/pools", {"poolid": "whiletrickling", "comment": "x" * 2000})
        expect(r.status == 200, r)
        expect(any(p["poolid"] == "whiletrickling" for p in m.get("/pools").data), "pool")
        # After the grace (3 s here) an upload this slow ends with 408.
        status = read_status(s)
        expect(status.startswith(b"HTTP/1.1 408"), status)
    finally:
        s.close()
    deadline = time.time() + 5
    while time.time() < deadline and t.free() < free - (1 << 20):
        time.sleep(0.1)
    expect(t.free() >= free - (1 << 20), "the partial file's space was not returned")
    expect(not os.path.exists(os.path.join(m.path("var/lib/vz/template/iso"), "trickle.iso")), "file left")


@case
def upload_beyond_free_space_is_413(n):
    t = tmpfs_node()
    m = t.node
    # Declared larger than the file system: refused before the body (pved answers 413, as for any
    # payload too large for its target; Proxmox answers 500 when the write fails).
    b, pre, post = multipart_parts("filename", "big.iso", {"content": "iso"})
    s = raw_upload_conn(m)
    try:
        send_head(m, s, b, t.free() + (8 << 20))
        status = read_status(s)
    finally:
        s.close()
    expect(status.startswith(b"HTTP/1.1 413"), status)
    # Space that goes while the body comes: the write fails, 413 as well, nothing left.
    size = 16 << 20
    s = raw_upload_conn(m)
    filler = os.path.join(t.mnt, "filler")
    try:
        send_head(m, s, b, len(pre) + size + len(post))
        s.sendall(pre)
        with open(filler, "wb") as f:  # the space goes elsewhere meanwhile
            f.write(b"\0" * (t.free() - (4 << 20)))
        chunk = b"\1" * (1 << 20)
        status = b""
        try:
            for _ in range(size >> 20):
                s.sendall(chunk)
            s.sendall(post)
        except OSError:
            pass
        status = read_status(s)
    finally:
        s.close()
        os.unlink(filler)
    expect(status.startswith(b"HTTP/1.1 413"), status)
    expect("big.iso" not in os.listdir(m.path("var/lib/vz/template/iso")), "file left")
    r = m.post("/pools", {"poolid": "afterfull"})
    expect(r.status == 200, r)


def main():
    if os.geteuid() != 0:
        print("skip integration-upload: needs root")
        return 0
    try:
        with Node() as n:
            n.login()
            return run(n)
    finally:
        if TMPFS:
            TMPFS.close()


if __name__ == "__main__":
    sys.exit(main())
