#!/usr/bin/python3
# timeout: 300
# exclusive
"""The cluster log on 3 pvecfs nodes: an entry logged on node1 is in node3's .clusterlog (read through
its FUSE mount) within a second; a node whose pvecfs restarts (its log is RAM only) gets the earlier
entries when it joins again, and the others get its new ones; the bound (128 KiB of entries) holds on
every node, which keep the same newest entries; text is kept as pmxcfs keeps it. The cases run in order
on one cluster; each leaves all nodes up."""

import json
import os
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import cfslib  # noqa: E402
from cfslib import CfsError, case, expect  # noqa: E402

LOG_MAX_BYTES = 128 * 1024
ENTRY_HEADER = 20
EINVAL = 22


def log_on(nd, msg, **kw):
    c = nd.client()
    try:
        c.log(msg, **kw)
    finally:
        c.close()


def read_log(nd, max_entries=100000, user=""):
    c = nd.client()
    try:
        return c.log_read(user, max_entries)
    finally:
        c.close()


def clusterlog_file(nd):
    with open(os.path.join(nd.mnt, ".clusterlog")) as f:
        return json.load(f)["data"]


def wait_for(what, fn, timeout):
    end = time.monotonic() + timeout
    while True:
        got = fn()
        if got:
            return got
        if time.monotonic() > end:
            raise AssertionError(f"{what} after {timeout} s")
        time.sleep(0.05)


def entry_bytes(e):
    return ENTRY_HEADER + sum(len(e[k].encode()) for k in ("node", "user", "tag", "msg"))


@case
def logged_on_one_read_on_all(cl):
    n1, n3 = cl.nodes[0], cl.nodes[2]
    marker = f"starting task UPID:node1:{os.getpid():08X}:marker"
    start = time.monotonic()
    log_on(n1, marker, user="admin@pve")

    def seen():
        return [e for e in clusterlog_file(n3) if e["msg"] == marker]

    got = wait_for("node3's .clusterlog never showed node1's entry", seen, 1.0)
    took = time.monotonic() - start
    e = got[0]
    expect(e["node"] == "node1" and e["user"] == "admin@pve" and e["tag"] == "pved" and
           e["pri"] == 6 and e["pid"] > 0 and abs(e["time"] - time.time()) < 5,
           f"node3 has the entry as node1 made it: {e}")
    data = read_log(n3)
    keys = [(e["time"], e["node"], e["uid"]) for e in data]
    # (pmxcfs's order: time, then node, then uid; a node started in the same second comes after)
    expect(keys == sorted(keys, reverse=True) and marker in [e["msg"] for e in data[:3]],
           f"newest first: {data[:3]}")
    print(f"  node1 -> node3's .clusterlog in {took * 1000:.0f} ms")
    # each pvecfs began its log as pmxcfs does, and the joins brought those entries everywhere
    for nd in cl.nodes:
        wait_for(f"{nd.name} lacks a node's first entry",
                 lambda: {e["node"] for e in read_log(nd) if e["msg"] == "starting cluster log"} ==
                 {"node1", "node2", "node3"}, 5)


@case
def bad_log_requests_refused(cl):
    for kw in ({"priority": 8}, {"msg": b""}):
        try:
            log_on(cl.nodes[0], kw.get("msg", "x"), priority=kw.get("priority", 6))
        except CfsError as e:
            expect(e.errno == EINVAL, f"{kw}: {e}")
        else:
            raise AssertionError(f"accepted {kw}")


@case
def text_kept_as_pmxcfs_keeps_it(cl):
    n2 = cl.nodes[1]
    log_on(cl.nodes[0], b"line\nbreak \"q\" \\ \xc3\xa4 \xff end", user="root@pam", priority=3)
    long = "x" * 10000
    log_on(cl.nodes[0], long, tag="t" * 300)

    def both():
        data = read_log(n2, 10)
        mine = [e for e in data if e["msg"].startswith("line")]
        cut = [e for e in data if e["msg"].startswith("xxx")]
        return (mine, cut) if mine and cut else None

    mine, cut = wait_for("node2 never got the entries", both, 5)
    expect(mine[0]["msg"] == "line#010break \"q\" \\ \u00e4 ? end" and mine[0]["pri"] == 3,
           f"control characters and bad bytes replaced: {mine[0]}")
    expect(len(cut[0]["tag"]) == 255 and entry_bytes(cut[0]) == 4096,
           f"an entry is cut to 4 KiB, a tag to 255 bytes: {entry_bytes(cut[0])}")


@case
def rejoined_node_gets_earlier_entries(cl):
    n1, n3 = cl.nodes[0], cl.nodes[2]
    before = f"before-restart-{os.getpid()}"
    log_on(n1, before)
    wait_for("node3 never got the entry", lambda: any(e["msg"] == before for e in read_log(n3)),
             5)
    n3.stop_pvecfs()
    during = f"while-node3-was-down-{os.getpid()}"
    log_on(n1, during)
    n3.start_pvecfs()

    def has_both():
        msgs = {e["msg"] for e in clusterlog_file(n3)}
        return before in msgs and during in msgs

    wait_for("node3 never got the earlier entries after its restart", has_both, 10)
    # and node1 hears of node3's new run
    starts = lambda: [e for e in read_log(n1) if e["node"] == "node3" and  # noqa: E731
                      e["msg"] == "starting cluster log"]
    wait_for("node1 never got node3's new first entry", lambda: len(starts()) == 2, 10)


@case
def bound_holds_everywhere(cl):
    n2 = cl.nodes[1]
    c = n2.client()
    try:
        # 200 entries of about 1 KiB: more than the bound
        for i in range(200):
            c.log(f"burst {i:03d} " + "y" * 1000)
    finally:
        c.close()

    def alike():
        logs = [read_log(nd) for nd in cl.nodes]
        if all(any(e["msg"].startswith("burst 199") for e in log[:3]) for log in logs) and \
                all(log == logs[0] for log in logs):
            return logs[0]
        return None

    data = wait_for("the nodes' logs never became alike", alike, 10)
    size = sum(entry_bytes(e) for e in data)
    expect(LOG_MAX_BYTES - 1100 < size <= LOG_MAX_BYTES, f"the log holds {size} bytes")
    bursts = [e for e in data if e["msg"].startswith("burst")]
    expect(not any(e["msg"].startswith("burst 000") for e in bursts),
           "the oldest entries are gone")
    times = [(e["time"], e["node"], e["uid"]) for e in data]
    expect(times == sorted(times, reverse=True), "newest first")
    expect(len(read_log(n2, 7)) == 7 and len(clusterlog_file(n2)) == 50,
           "max counts; .clusterlog shows 50")


def main():
    return cfslib.cluster_main(3)


if __name__ == "__main__":
    sys.exit(main())
