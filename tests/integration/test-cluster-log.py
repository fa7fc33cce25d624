#!/usr/bin/python3
# timeout: 120
"""GET /cluster/log: a node on plain files has no cluster log (an empty list, as a Proxmox node without
pmxcfs); on pvecfs (pved --pvecfs, local mode) a task's start and end are there as pvedaemon writes
them ("starting task UPID", "end task UPID STATUS", info, or err when it failed), newest first, each
with its id; max counts; a user without Sys.Syslog on / sees only their own entries."""

import os
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import pvetest  # noqa: E402
from pvetest import Node, case, expect  # noqa: E402


def log_entries(n, **params):
    r = n.get("/cluster/log", params or None)
    expect(r.status == 200 and isinstance(r.data, list), r)
    return r.data


def wait_entry(n, msg, timeout=10):
    end = time.monotonic() + timeout
    while True:
        got = [e for e in log_entries(n, max=1000) if e["msg"] == msg]
        if got:
            return got[0]
        expect(time.monotonic() < end, f"no entry '{msg}' after {timeout} s")
        time.sleep(0.1)


@case
def no_log_on_plain_files(n):
    """(the node's first life, before pvecfs: see main)"""
    expect(n.plain_log == [], f"no cluster log without pvecfs, even after a task: {n.plain_log}")


@case
def task_start_and_end(n):
    upid = n.post(f"/nodes/{n.name}/startall", {}).data
    expect(upid.startswith("UPID:"), upid)
    t = n.wait_task(upid)
    expect(t["exitstatus"] == "OK", t)
    start = wait_entry(n, f"starting task {upid}")
    end = wait_entry(n, f"end task {upid} OK")
    for e in (start, end):
        expect(e["pri"] == 6 and e["user"] == "admin@pve" and e["tag"] == "pved" and
               e["node"] == n.name and e["id"] == f"{e['uid']}:{n.name}" and e["pid"] > 0, e)
    data = log_entries(n)
    keys = [(e["time"], e["uid"]) for e in data]
    expect(keys == sorted(keys, reverse=True), "newest first")
    expect(data.index(end) < data.index(start), "the end after the start")


@case
def failed_task_is_an_error(n):
    # (a task that fails at once: Proxmox decompresses only isos)
    src = n.path("cluster-log.tar.gz")
    with open(src, "wb") as f:
        f.write(b"not really gzip")
    st, body = n.local_call("POST", f"/nodes/{n.name}/storage/local/download-url",
                            {"url": "file://" + src, "content": "vztmpl",
                             "filename": "cluster-log.tar.gz", "compression": "gz"})
    expect(st == 200, body)
    upid = body["data"]
    status = n.wait_task(upid)["exitstatus"]
    expect(status != "OK", status)
    e = wait_entry(n, f"end task {upid} {status}")
    expect(e["pri"] == 3 and e["user"] == "root@pam", f"a failed task's end is an error: {e}")


@case
def max_and_own_entries(n):
    expect(len(log_entries(n, max=1)) == 1, "max=1")
    expect(len(log_entries(n)) <= 50, "50 by default")
    for bad in ("0", "x"):
        r = n.get("/cluster/log", {"max": bad})
        expect(r.status == 400 and "max" in (r.json.get("errors") or {}), r)
    # a user who may start a task but has no Sys.Syslog on /
    expect(n.post("/access/users", {"userid": "logreader@pve", "password": "log-reader-1"}).status
           == 200, "user")
    expect(n.request("PUT", "/access/acl", {"path": "/", "roles": "PVEVMUser",
                                            "users": "logreader@pve"}).status == 200, "acl")
    u = Node.__new__(Node)
    u.__dict__.update(n.__dict__)
    u.ticket = u.csrf = None
    u.login("logreader@pve", "log-reader-1")
    upid = u.post(f"/nodes/{n.name}/startall", {}).data
    u.wait_task(upid)
    wait_entry(u, f"end task {upid} OK")
    mine = log_entries(u, max=1000)
    expect(len(mine) == 2 and all(e["user"] == "logreader@pve" for e in mine),
           f"only their own entries: {mine}")
    expect(len(log_entries(n, max=1000)) > 2, "an auditor of the syslog sees all")


def on_plain_files(n):
    """A task, and no cluster log."""
    n.wait_task(n.post(f"/nodes/{n.name}/startall", {}).data)
    n.plain_log = log_entries(n)
    n.stop()


def main():
    return pvetest.pvecfs_node_main(on_plain_files)


if __name__ == "__main__":
    sys.exit(main())
