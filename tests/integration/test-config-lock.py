"""A held config lock delays no other request: while a change of storage.cfg, user.cfg or tfa.cfg waits
for the store lock another holder has, pved's loop goes on (the lock is retried on timers, never slept
for), and the change is made once the lock is free. A config file that does not parse is the server's
error. Needs root."""

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


def while_held(n, name, seconds, change):
    """Holds the store lock name for seconds while change() runs in a thread, asking /version on one
    keep-alive connection meanwhile; returns change's response, how long it took and the latencies."""
    lockdir = hold_lock(n, name)
    result = {}

    def run_change():
        t = time.time()
        result["r"] = change()
        result["took"] = time.time() - t
    changer = threading.Thread(target=run_change)
    changer.start()
    try:
        conn = n.connection()
        lat = []
        t_end = time.time() + seconds
        while time.time() < t_end:
            t = time.time()
            r = n.get("/version", conn=conn)
            lat.append(time.time() - t)
            expect(r.status == 200, r)
            time.sleep(0.01)
        conn.close()
        waited = changer.is_alive()
    finally:
        shutil.rmtree(lockdir, ignore_errors=True)
    changer.join(5)
    expect(not changer.is_alive(), "the change did not go on once the lock was free")
    lat.sort()
    print(f"# /version while a change waited {seconds} s for {name}: {len(lat)} answers, "
          f"median {lat[len(lat) // 2] * 1000:.1f} ms, slowest {lat[-1] * 1000:.1f} ms, "
          f"the change took {result['took']:.2f} s")
    expect(waited, f"the change did not wait for {name}: {result['r']}")
    expect(len(lat) >= 20 * seconds, f"only {len(lat)} answers in {seconds} s")
    expect(lat[-1] < 0.05, f"slowest /version {lat[-1] * 1000:.0f} ms")
    # a lower bound too: the answers were real round trips, not cached in the client
    expect(lat[0] > 0.00005, f"fastest /version {lat[0] * 1e6:.0f} us")
    expect(result["r"].status == 200, result["r"])
    expect(seconds <= result["took"] < seconds + 1, f"the change took {result['took']:.1f} s")
    return result["r"]


@case
def held_lock_delays_no_other_request(n):
    while_held(n, "file-storage_cfg", 5,
               lambda: n.post("/storage", {"storage": "waits", "type": "dir",
                                           "path": n.path("srv/waits")}))
    expect(n.get("/storage/waits").status == 200, "the storage was not saved")


@case
def held_user_cfg_delays_no_other_request(n):
    while_held(n, "file-user_cfg", 3, lambda: n.post("/access/users", {"userid": "waits@pve"}))
    expect(n.get("/access/users/waits@pve").status == 200, "the user was not saved")
    expect(n.audited("user create", "userid=waits@pve"), "no audit line")


@case
def held_tfa_cfg_delays_no_other_request(n):
    r = n.post("/access/users", {"userid": "waitstfa@pve"})
    expect(r.status == 200, r)
    r = while_held(n, "file-tfa_cfg", 3,
                   lambda: n.post("/access/tfa/waitstfa@pve",
                                  {"type": "recovery", "password": n.admin_password}))
    expect(len(r.data["recovery"]) > 0, r)
    r = n.get("/access/tfa/waitstfa@pve")
    expect(r.status == 200 and [e["id"] for e in r.data] == ["recovery"], r)


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
        expect(n.get("/storage/never").status == 500, "saved without the lock")
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


@case
def broken_access_files_are_the_servers_error(n):
    """user.cfg, domains.cfg and priv/tfa.cfg that do not parse: 500 naming the file (and the line),
    for a change and for a GET, and nothing written."""
    broken = [("user.cfg", "thisisbroken\n", "POST", "/access/groups", {"groupid": "after"},
               "/access/users", "user.cfg: line "),
              ("domains.cfg", "thisisbroken\n", "POST",
               "/access/domains", {"realm": "after", "type": "ad", "server1": "localhost",
                                   "domain": "example.com"},
               "/access/domains/pam", "domains.cfg: line "),
              ("priv/tfa.cfg", "{not json", "PUT", "/access/users/admin@pve/unlock-tfa", {},
               "/access/tfa", "priv/tfa.cfg: ")]
    for name, text, method, path, params, get, reason in broken:
        cfg = n.path("etc/pve/" + name)
        good = open(cfg).read() if os.path.exists(cfg) else None
        try:
            with open(cfg + ".new", "w") as f:
                f.write(text)
            os.rename(cfg + ".new", cfg)
            r = n.request(method, path, params)
            expect(r.status == 500 and r.reason.startswith(reason) and "::" not in r.reason,
                   (name, r))
            expect(open(cfg).read() == text, f"{name} written")
            r = n.get(get)
            expect(r.status == 500 and r.reason.startswith(reason), (name, r))
        finally:
            if good is None:
                os.unlink(cfg)
            else:
                with open(cfg + ".new", "w") as f:
                    f.write(good)
                os.rename(cfg + ".new", cfg)


def main():
    if os.geteuid() != 0:
        print("skip config-lock: needs root")
        return 0
    with Node() as n:
        n.login()
        return run(n)


if __name__ == "__main__":
    sys.exit(main())
