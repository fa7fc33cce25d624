#!/usr/bin/python3
# timeout: 120
"""A standalone node on pvecfs (pved --pvecfs): a node that ran on plain files keeps every file when it
moves to pvecfs, its API writes land in pvecfs (and show through the FUSE mount), and a pvecfs killed
with -9 is restarted by pved while the API goes on."""

import os
import signal
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "integration"))
import pvetest  # noqa: E402
from pvetest import Node, Skip, case, expect  # noqa: E402


def pvecfs_pid(n):
    for pid in pvetest.children_of(n.proc.pid):
        if pvetest.comm(pid) == "pvecfs" and not pvetest.is_zombie(pid):
            return pid
    return None


@case
def imported_and_served(n):
    expect(os.path.exists(n.path("var/lib/pve-cluster/config.db")), "pvecfs's database exists")
    with open(n.path("proc/mounts") if False else "/proc/mounts") as f:
        expect(any(line.split()[1] == n.path("etc/pve") for line in f), "etc/pve is a mount")
    r = n.post("/pools", {"poolid": "cfspool"})
    expect(r.status == 200, f"create a pool: {r.status} {r.body[:200]}")
    with open(n.path("etc/pve/user.cfg")) as f:
        expect("cfspool" in f.read(), "the API's write is in pvecfs, read through the mount")


@case
def restarted_after_kill9(n):
    pid = pvecfs_pid(n)
    expect(pid, "pved runs a pvecfs")
    os.kill(pid, signal.SIGKILL)
    end = time.monotonic() + 15
    new = None
    while time.monotonic() < end:
        new = pvecfs_pid(n)
        if new and new != pid and os.path.exists(n.path("run/pvecfs.sock")):
            try:
                # (the client reads the node's CA through the mount, dead until the new pvecfs)
                if n.get("/pools").status == 200:
                    break
            except OSError:
                pass
        time.sleep(0.1)
    expect(new and new != pid, "pved started a new pvecfs")
    r = n.post("/pools", {"poolid": "afterkill"})
    expect(r.status == 200, f"writes work again: {r.status} {r.body[:200]}")
    r = n.get("/pools")
    ids = [p["poolid"] for p in r.data]
    expect("cfspool" in ids and "afterkill" in ids, f"nothing lost: {ids}")
    # pved's change watch follows the new pvecfs: an edit behind pved's back reaches its cache
    with open(n.path("etc/pve/user.cfg")) as f:
        text = f.read()
    with open(n.path("etc/pve/user.cfg"), "w") as f:
        f.write(text + "pool:bymount::::\n")
    end = time.monotonic() + 10
    while True:
        ids = [p["poolid"] for p in n.get("/pools").data]
        if "bymount" in ids:
            break
        expect(time.monotonic() < end, f"pved never saw the edit made through the mount: {ids}")
        time.sleep(0.1)


@case
def cluster_status_on_pvecfs(n):
    # pvecfs without corosync: its .members names no cluster, so the node is on its own
    r = n.get("/cluster/status")
    expect(r.status == 200 and len(r.data) == 1 and r.data[0]["type"] == "node" and
           r.data[0]["name"] == n.name and r.data[0]["local"] == 1, r)


def files_under(top):
    out = {}
    for dirpath, dirs, files in os.walk(top):
        for f in files:
            full = os.path.join(dirpath, f)
            with open(full, "rb") as fh:
                out[os.path.relpath(full, top)] = fh.read()
        for d in dirs:
            out[os.path.relpath(os.path.join(dirpath, d), top) + "/"] = None
    return out


@case
def plain_files_imported(n):
    """(run first: main started the node on plain files, then again with --pvecfs)"""
    before = n.plain_files
    after = files_under(n.path("etc/pve"))
    aside = files_under(n.path("var/lib/pve-cluster/imported-etc-pve"))
    expect(before == aside, "the plain files are kept aside as they were")
    # (the file backend's own lock file is no configuration and stays behind)
    missing = [p for p in before if not os.path.basename(p.rstrip("/")).startswith(".pved-")
               and (p not in after or after[p] != before[p])]
    expect(len(before) > 10 and not missing, f"every plain file is in pvecfs: missing {missing[:5]}")


def on_plain_files(n):
    n.post("/pools", {"poolid": "plainpool"})
    n.stop()
    n.plain_files = files_under(n.path("etc/pve"))


def main():
    pvetest.CASES.sort(key=lambda f: f.__name__ != "plain_files_imported")
    return pvetest.pvecfs_node_main(on_plain_files)


if __name__ == "__main__":
    sys.exit(main())
