"""Static files from the web interface's directory: a precompressed FILE.gz goes instead of FILE, with
Content-Encoding gzip, when the client takes gzip and the twin is not older than the file; otherwise the
file itself. Both carry Vary: Accept-Encoding and the file's Last-Modified. A node on a temporary root
serves a www directory the test writes; it removes both when done."""

import gzip
import os
import shutil
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from pvetest import Node, case, expect, run  # noqa: E402

state = {}
SCRIPT = b"".join(b"export const line%d = 'the same text, again and again';\n" % i for i in range(400))


def get(path, method="GET", **headers):
    c = state["node"].connection()
    try:
        c.request(method, path, headers=headers)
        r = c.getresponse()
        return r, r.read()
    finally:
        c.close()


def write_www():
    www = tempfile.mkdtemp(prefix="pved-www-")
    os.chmod(www, 0o755)  # the front reads it as www-data
    files = {"index.html": b"<!doctype html><title>t</title>\n", "app.js": SCRIPT,
             "plain.css": b"body { margin: 0 }\n", "stale.js": SCRIPT + b"// newer\n"}
    for name, data in files.items():
        with open(os.path.join(www, name), "wb") as f:
            f.write(data)
    for name in ("app.js", "stale.js"):
        with open(os.path.join(www, name + ".gz"), "wb") as f:
            f.write(gzip.compress(SCRIPT, mtime=0))
    # stale.js changed after its twin was made: the twin is an hour older.
    old = time.time() - 3600
    os.utime(os.path.join(www, "stale.js.gz"), (old, old))
    for name in os.listdir(www):
        os.chmod(os.path.join(www, name), 0o644)
    return www


@case
def gzip_twin_when_taken():
    r, body = get("/app.js", **{"Accept-Encoding": "gzip, deflate"})
    expect(r.status == 200 and r.getheader("Content-Encoding") == "gzip", (r.status, r.getheaders()))
    expect(gzip.decompress(body) == SCRIPT, "the twin is not the file, gzipped")
    expect(int(r.getheader("Content-Length")) == len(body) < len(SCRIPT), r.getheaders())
    expect(r.getheader("Content-Type", "").startswith("application/javascript") or
           r.getheader("Content-Type", "").startswith("text/javascript"), r.getheaders())
    expect(r.getheader("Vary") == "Accept-Encoding", r.getheaders())
    h, hbody = get("/app.js", method="HEAD", **{"Accept-Encoding": "gzip"})
    expect(h.status == 200 and h.getheader("Content-Encoding") == "gzip" and hbody == b"" and
           h.getheader("Content-Length") == r.getheader("Content-Length"), h.getheaders())


@case
def plain_file_otherwise():
    for headers in ({}, {"Accept-Encoding": "identity"}, {"Accept-Encoding": "gzip;q=0"}):
        r, body = get("/app.js", **headers)
        expect(r.status == 200 and r.getheader("Content-Encoding") is None and body == SCRIPT,
               (headers, r.getheaders()))
        expect(r.getheader("Vary") == "Accept-Encoding", r.getheaders())
    # no twin
    r, body = get("/plain.css", **{"Accept-Encoding": "gzip"})
    expect(r.status == 200 and r.getheader("Content-Encoding") is None and
           body == b"body { margin: 0 }\n", r.getheaders())
    # a twin older than its file is not what the file says now
    r, body = get("/stale.js", **{"Accept-Encoding": "gzip"})
    expect(r.status == 200 and r.getheader("Content-Encoding") is None and
           body == SCRIPT + b"// newer\n", r.getheaders())


@case
def not_modified_either_way():
    r, _ = get("/app.js", **{"Accept-Encoding": "gzip"})
    mod = r.getheader("Last-Modified")
    plain, _ = get("/app.js")
    expect(mod and plain.getheader("Last-Modified") == mod, "the twin's date is not the file's")
    r, body = get("/app.js", **{"Accept-Encoding": "gzip", "If-Modified-Since": mod})
    expect(r.status == 304 and body == b"" and r.getheader("Content-Encoding") is None, r.getheaders())


def main():
    if os.geteuid() != 0:
        print("skip integration-web-static: needs root (a node binds ports, drops privileges)")
        return 0
    www = write_www()
    try:
        with Node(args=("--www", www)) as n:
            state["node"] = n
            return run()
    finally:
        shutil.rmtree(www, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
