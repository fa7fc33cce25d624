"""A held config lock delays no other request: while a change of storage.cfg waits for the store lock
another holder has, pved's loop goes on (the lock is retried on timers, never slept for). Needs root."""

import os
import shutil
import sys
import threading
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from pvetest import Node, case, expect, run  # noqa: E402


def starttime_of(pid):
    with open(f"/proc/{pid}/stat") as f:
        return f.read().rsplit(")", 1)[1].split()[19]


def hold_lock(n, name):
    """The store lock as a live holder (this test) has it: priv/lock/NAME with an owner file."""
    d = n.path(f"etc/pve/priv/lock/{name}")
    os.makedirs(d)
    with open(os.path.join(d, "owner"), "w") as f:
        f.write(f"{'cd' * 16} {os.getpid()} {starttime_of(os.getpid())}\n")
    return d


@case
def held_lock_delays_no_other_request(n):
    lockdir = hold_lock(n, "file-storage_cfg")
    result = {}

    def add():
        t = time.time()
        result["r"] = n.post("/storage", {"storage": "waits", "type": "dir",
                                          "path": n.path("srv/waits")})
        result["took"] = time.time() - t
    adder = threading.Thread(target=add)
    adder.start()
    try:
        # 5 s of /version on one keep-alive connection while the POST waits for the lock
        conn = n.connection()
        lat = []
        t_end = time.time() + 5
        while time.time() < t_end:
            t = time.time()
            r = n.get("/version", conn=conn)
            lat.append(time.time() - t)
            expect(r.status == 200, r)
            time.sleep(0.01)
        conn.close()
        expect(adder.is_alive(), "the POST did not wait for the lock")
        lat.sort()
        print(f"# /version while a POST waited 5 s for the lock: {len(lat)} answers, "
              f"median {lat[len(lat) // 2] * 1000:.1f} ms, slowest {lat[-1] * 1000:.1f} ms")
        expect(len(lat) >= 100, f"only {len(lat)} answers in 5 s")
        expect(lat[-1] < 0.05, f"slowest /version {lat[-1] * 1000:.0f} ms")
        # a lower bound too: the answers were real round trips, not cached in the client
        expect(lat[0] > 0.00005, f"fastest /version {lat[0] * 1e6:.0f} us")
    finally:
        shutil.rmtree(lockdir, ignore_errors=True)
    adder.join(5)
    expect(not adder.is_alive(), "the POST did not go on once the lock was free")
    expect(result["r"].status == 200, result["r"])
    expect(5 <= result["took"] < 6, f"the POST took {result['took']:.1f} s")
    expect(n.get("/storage/waits").status == 200, "the storage was not saved")


@case
def lock_never_freed_times_out(n):
    lockdir = hold_lock(n, "file-storage_cfg")
    try:
        t = time.time()
        r = n.post("/storage", {"storage": "never", "type": "dir", "path": n.path("srv/never")})
        took = time.time() - t
        expect(r.status == 409 and "got timeout" in r.reason, r)
        # Proxmox's cfs_lock_file waits 10 s
        expect(9.5 <= took < 12, f"gave up after {took:.1f} s")
        expect(n.get("/storage/never").status == 404, "saved without the lock")
    finally:
        shutil.rmtree(lockdir, ignore_errors=True)


@case
def broken_storage_cfg_is_the_servers_error(n):
    path = n.path("etc/pve/storage.cfg")
    with open(path) as f:
        good = f.read()
    try:
        with open(path, "a") as f:
            f.write("dir: broken\n\tpath /x\nthis is not a property line\n")
        r = n.post("/storage", {"storage": "after", "type": "dir", "path": n.path("srv/after")})
        expect(r.status == 500, r)
        expect(r.reason.startswith("storage.cfg: line ") and "::" not in r.reason, r.reason)
        r = n.get("/storage")
        expect(r.status == 500 and r.reason.startswith("storage.cfg: line "), r)
    finally:
        with open(path, "w") as f:
            f.write(good)


def main():
    if os.geteuid() != 0:
        print("skip config-lock: needs root")
        return 0
    with Node() as n:
        n.login()
        return run(n)


if __name__ == "__main__":
    sys.exit(main())
