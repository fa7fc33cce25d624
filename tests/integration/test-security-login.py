"""Brute-force limits of POST /access/ticket on a real pved: failures are counted per (user, client
address) and per address, past a limit attempts wait for their turn and are still checked, nobody can
lock a user out from elsewhere, ticket renewal never waits, and names chosen to collide in the old unkeyed
table (FNV-1a over "u:<userid>", 4096 slots, 8 probes) no longer evict anybody's counter. Clients speak
from several loopback addresses (127.0.0.x) as their source. Needs root."""

import concurrent.futures
import http.client
import os
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from pvetest import case, expect, node_main  # noqa: E402

# The limits as daemon/auth-internal.h sets them.
MAX_PER_PAIR = 5
FIRST_TURN = 1.0  # seconds: the first attempt past a limit waits this long
AUTH_FAIL_DELAY = 3.0  # every 401 is answered after 3 s, as Proxmox does


def login_from(n, addr, user, password, timeout=60):
    """POST /access/ticket from source address addr; (response, seconds it took)."""
    conn = http.client.HTTPSConnection("127.0.0.1", n.port, context=n.ssl_context(),
                                       timeout=timeout, source_address=(addr, 0))
    t0 = time.monotonic()
    r = n.post("/access/ticket", {"username": user, "password": password}, ticket="", conn=conn)
    conn.close()
    return r, time.monotonic() - t0


def fail_many(n, addr, users, password="wrong"):
    """Failed logins of users from addr, all at once (so none waits for another's count)."""
    with concurrent.futures.ThreadPoolExecutor(len(users)) as pool:
        res = list(pool.map(lambda u: login_from(n, addr, u, password), users))
    expect(all(r.status == 401 for r, _ in res), [r for r, _ in res])


def fnv1a(s):
    h = 2166136261
    for ch in s.encode():
        h = ((h ^ ch) * 16777619) & 0xFFFFFFFF
    return h


@case
def other_address_logs_in_at_once(n):
    a, b = "127.0.0.11", "127.0.0.12"
    fail_many(n, a, ["admin@pve"] * (MAX_PER_PAIR + 1))
    # From elsewhere the right password logs in at once ...
    r, took = login_from(n, b, "admin@pve", n.admin_password)
    expect(r.status == 200 and r.data["ticket"].startswith("PVE:admin@pve:"), r)
    expect(took < FIRST_TURN, f"a login from another address waited {took:.1f} s")
    # ... and a valid ticket renews itself at once, even from the address past the limit.
    r2, took = login_from(n, a, "admin@pve", r.data["ticket"])
    expect(r2.status == 200 and r2.data["ticket"].startswith("PVE:admin@pve:"), r2)
    expect(took < FIRST_TURN, f"a ticket renewal waited {took:.1f} s")
    # From the address past the limit the right password is delayed, not refused.
    r3, took = login_from(n, a, "admin@pve", n.admin_password)
    expect(r3.status == 200, f"refused instead of delayed: {r3}")
    expect(took >= FIRST_TURN - 0.1, f"no delay past the limit ({took:.2f} s)")
    lines = n.audit_lines()
    expect(any(f" {a} admin@pve login delayed " in x for x in lines), lines[-5:])
    expect(sum(f" {a} admin@pve login failed: " in x for x in lines) >= MAX_PER_PAIR + 1,
           lines[-10:])


@case
def wrong_password_past_the_limit_is_still_checked(n):
    a = "127.0.0.13"
    r = n.post("/access/users", {"userid": "erin@pve", "password": "erin-secret-1"})
    expect(r.status == 200, r)
    fail_many(n, a, ["erin@pve"] * MAX_PER_PAIR)
    # Past the limit: a wrong password waits for its turn, then fails as usual ...
    r, took = login_from(n, a, "erin@pve", "still-wrong")
    expect(r.status == 401 and took >= FIRST_TURN + AUTH_FAIL_DELAY - 0.2, (r, took))
    # ... and the next one waits longer (turns 1 s, 2 s, 4 s ... apart), then logs in.
    r, took = login_from(n, a, "erin@pve", "erin-secret-1")
    expect(r.status == 200 and took >= 2 * FIRST_TURN - 0.1, (r, took))


@case
def colliding_names_do_not_evict_a_counter(n):
    a, b = "127.0.0.21", "127.0.0.22"
    # Names whose "u:<name>" fall in admin's slot of the old table: 8 of them evicted its counter.
    target = fnv1a("u:admin@pve") % 4096
    names, i = [], 0
    while len(names) < 9:
        name = f"x{i}@pve"
        if fnv1a(f"u:{name}") % 4096 == target:
            names.append(name)
        i += 1
    fail_many(n, a, ["admin@pve"] * (MAX_PER_PAIR + 1))
    fail_many(n, b, names)
    # admin from a is still past the limit: its attempt waits for a turn.
    r, took = login_from(n, a, "admin@pve", n.admin_password)
    expect(r.status == 200, r)
    expect(took >= FIRST_TURN - 0.1, f"admin's counter was evicted (answered in {took:.2f} s)")


if __name__ == "__main__":
    sys.exit(node_main())
