"""Two-factor login end to end on a real pved: TOTP entries (codes from oathtool), Proxmox's two-step
login with a half ticket, replay and the one-step window, recovery codes used once, the /access/tfa
API and its permissions, unlocking a locked user, deleting a user with factors, the brute-force
limits and the audit log. Needs root and oathtool."""

import concurrent.futures
import json
import os
import shutil
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from pvetest import Node, Skip, case, expect, run  # noqa: E402

SECRET = "JBSWY3DPEHPK3PXPJBSWY3DPEHPK3PXP"
URI = f"otpauth://totp/pved:alice%40pve?secret={SECRET}&issuer=pved"
WINDOW = 4  # PVED_LOGIN_FAIL_WINDOW for this node


def totp(offset=0):
    """The code oathtool computes for now + offset seconds."""
    now = time.strftime("%Y-%m-%d %H:%M:%S UTC", time.gmtime(time.time() + offset))
    out = subprocess.run(["oathtool", "--totp", "-b", "--now", now, SECRET],
                         check=True, capture_output=True, text=True)
    return out.stdout.strip()


LAST_STEP = [-1]  # the last TOTP step pved accepted: it refuses that one and earlier ones again


def fresh_code():
    """A code pved has not seen: the current step's, else the next one's (inside the window), else
    after waiting for the next step."""
    while True:
        cur = int(time.time()) // 30
        for step in (cur, cur + 1):
            if step > LAST_STEP[0]:
                LAST_STEP[0] = step
                return totp((step - cur) * 30)
        time.sleep(30 - time.time() % 30 + 0.2)


def login1(n, user, password):
    return n.post("/access/ticket", {"username": user, "password": password}, ticket="")


def login2(n, user, half, response):
    return n.post("/access/ticket", {"username": user, "password": response,
                                     "tfa-challenge": half}, ticket="")


def as_user(n, user, password):
    other = Node.__new__(Node)
    other.__dict__.update(n.__dict__)
    other.ticket = other.csrf = None
    other.login(user, password)
    return other


def audit(n):
    return "\n".join(n.audit_lines())


def wait_unblocked():
    time.sleep(WINDOW + 0.5)


@case
def setup_users(n):
    for user, pw in (("alice@pve", "alice-secret-1"), ("bob@pve", "bob-secret-1"),
                     ("carol@pve", "carol-secret-1")):
        r = n.post("/access/users", {"userid": user, "password": pw})
        expect(r.status == 200, r)
    alice = as_user(n, "alice@pve", "alice-secret-1")
    r = alice.get("/access/tfa/alice@pve")
    expect(r.status == 200 and r.data == [], r)


@case
def add_totp(n):
    alice = as_user(n, "alice@pve", "alice-secret-1")
    # The caller's password is required (not root@pam), and must be right.
    r = alice.post("/access/tfa/alice@pve", {"type": "totp", "totp": URI, "value": totp()})
    expect(r.status == 400 and "password" in r.json.get("errors", {}), r)
    r = alice.post("/access/tfa/alice@pve", {"type": "totp", "totp": URI, "value": totp(),
                                             "password": "wrong-password"})
    expect(r.status in (401, 403), r)
    # A wrong current code means the authenticator holds another secret.
    wrong = "%06d" % ((int(totp()) + 500000) % 1000000)
    r = alice.post("/access/tfa/alice@pve", {"type": "totp", "totp": URI, "value": wrong,
                                             "password": "alice-secret-1"})
    expect(r.status == 400 and "value" in r.json.get("errors", {}), r)
    r = alice.post("/access/tfa/alice@pve", {"type": "totp", "totp": "otpauth://totp/x?secret=AB",
                                             "value": "123456", "password": "alice-secret-1"})
    expect(r.status == 400 and "totp" in r.json.get("errors", {}), r)
    r = alice.post("/access/tfa/alice@pve", {"type": "totp", "totp": URI, "value": totp(),
                                             "description": "phone",
                                             "password": "alice-secret-1"})
    expect(r.status == 200 and r.data["id"].startswith("totp-"), r)
    with open(n.path("etc/pve/priv/tfa.cfg")) as f:
        cfg = f.read()
    expect('"alice@pve"' in cfg and SECRET in cfg, cfg)
    r = alice.get("/access/tfa/alice@pve")
    expect(r.status == 200 and [(e["type"], e["description"]) for e in r.data] == [("totp", "phone")], r)
    # Not with an API token: Proxmox's allowtoken 0.
    r = n.post("/access/users/alice@pve/token/t1", {"privsep": 0})
    expect(r.status == 200, r)
    tok = f"{r.data['full-tokenid']}={r.data['value']}"
    r = n.post("/access/tfa/alice@pve", {"type": "recovery"}, ticket="", token=tok)
    expect(r.status == 401, r)


@case
def two_step_login(n):
    r = login1(n, "alice@pve", "alice-secret-1")
    expect(r.status == 200 and r.data.get("NeedTFA") == 1, r)
    half = r.data["ticket"]
    expect(half.startswith("PVE:!tfa!"), half)
    # The half ticket opens nothing and renews nothing.
    r = n.get("/version", ticket=half)
    expect(r.status == 401, r)
    r = n.post("/access/ticket", {"username": "alice@pve", "password": half}, ticket="")
    expect(r.status == 401, r)
    code = fresh_code()
    r = login2(n, "alice@pve", half, f"totp:{code}")
    expect(r.status == 200 and r.data["ticket"].startswith("PVE:alice@pve:"), r)
    expect("NeedTFA" not in r.data, r)
    full = r.data["ticket"]
    r = n.get("/version", ticket=full)
    expect(r.status == 200, r)
    # The same code again is a replay, even with a fresh half ticket.
    r = login1(n, "alice@pve", "alice-secret-1")
    half = r.data["ticket"]
    r = login2(n, "alice@pve", half, f"totp:{code}")
    expect(r.status == 401, r)
    # The next step's code is inside the window (unless it was just used).
    if LAST_STEP[0] < int(time.time()) // 30 + 1:
        LAST_STEP[0] = int(time.time()) // 30 + 1
        r = login2(n, "alice@pve", half, f"totp:{totp(30)}")
        expect(r.status == 200 and r.data["ticket"].startswith("PVE:alice@pve:"), r)
    # A code two steps ahead is not.
    r = login1(n, "alice@pve", "alice-secret-1")
    half = r.data["ticket"]
    r = login2(n, "alice@pve", half, f"totp:{totp(90)}")
    expect(r.status == 401, r)
    # A half ticket of alice is no good for bob.
    r = login2(n, "bob@pve", half, f"totp:{totp(30)}")
    expect(r.status == 401, r)
    # Proxmox's older one-step form: otp with the password.
    r = n.post("/access/ticket", {"username": "alice@pve", "password": "alice-secret-1",
                                  "otp": "000000"}, ticket="")
    expect(r.status == 401, r)
    wait_unblocked()


@case
def recovery_codes(n):
    alice = as_user_tfa(n)
    r = alice.post("/access/tfa/alice@pve", {"type": "recovery", "password": "alice-secret-1"})
    expect(r.status == 200 and r.data["id"] == "recovery" and len(r.data["recovery"]) == 10, r)
    codes = r.data["recovery"]
    with open(n.path("etc/pve/priv/tfa.cfg")) as f:
        cfg = f.read()
    expect(not any(c in cfg for c in codes), "recovery codes stored in clear")
    r = alice.post("/access/tfa/alice@pve", {"type": "recovery", "password": "alice-secret-1"})
    expect(r.status in (400, 409), r)
    r = login1(n, "alice@pve", "alice-secret-1")
    expect(r.data.get("NeedTFA") == 1, r)
    r2 = login2(n, "alice@pve", r.data["ticket"], f"recovery:{codes[0]}")
    expect(r2.status == 200 and r2.data["ticket"].startswith("PVE:alice@pve:"), r2)
    r = login1(n, "alice@pve", "alice-secret-1")
    r2 = login2(n, "alice@pve", r.data["ticket"], f"recovery:{codes[0]}")
    expect(r2.status == 401, r2)
    r2 = login2(n, "alice@pve", r.data["ticket"], f"recovery:{codes[1]}")
    expect(r2.status == 200, r2)
    r = alice.get("/access/tfa/alice@pve")
    expect(sorted(e["type"] for e in r.data) == ["recovery", "totp"], r)
    wait_unblocked()


@case
def users_tfa_types(n):
    """GET /access/users/{userid}/tfa, the older view: the types a user has entries of (with multiple,
    as Proxmox answers them under `user`, and as its schema names them under `types`) and the type
    the user's realm enforces."""
    r = n.get("/access/users/alice@pve/tfa", {"multiple": 1})
    expect(r.status == 200 and sorted(r.data["types"]) == ["recovery", "totp"]
           and sorted(r.data["user"]) == ["recovery", "totp"] and "realm" not in r.data, r)
    r = n.get("/access/users/bob@pve/tfa", {"multiple": 1})
    expect(r.status == 200 and r.data == {"types": [], "user": []}, r)
    r = n.get("/access/users/alice@pve/tfa")
    expect(r.status == 200 and r.data == {}, r)
    r = n.post("/access/domains", {"realm": "tfaldap", "type": "ldap", "server1": "127.0.0.1",
                                   "base_dn": "dc=example,dc=org", "user_attr": "uid",
                                   "tfa": "type=oath,step=30"})
    expect(r.status == 200, r)
    expect(n.post("/access/users", {"userid": "someone@tfaldap"}).status == 200, "ldap user")
    r = n.get("/access/users/someone@tfaldap/tfa")
    expect(r.status == 200 and r.data == {"realm": "oath"}, r)
    # A user of a realm that does not exist is no user: the permission check refuses first.
    r = n.get("/access/users/someone@nosuchrealm/tfa")
    expect(r.status == 403, r)
    # Only the user itself, or who may see users (User.Modify or Sys.Audit on its groups).
    bob = as_user(n, "bob@pve", "bob-secret-1")
    r = bob.get("/access/users/alice@pve/tfa")
    expect(r.status == 403, r)
    r = bob.get("/access/users/bob@pve/tfa")
    expect(r.status == 200, r)
    expect(n.request("DELETE", "/access/users/someone@tfaldap").status == 200, "ldap user removed")
    expect(n.request("DELETE", "/access/domains/tfaldap").status == 200, "realm removed")


def as_user_tfa(n):
    """alice, logged in through both steps."""
    r = login1(n, "alice@pve", "alice-secret-1")
    expect(r.status == 200 and r.data.get("NeedTFA") == 1, r)
    r2 = login2(n, "alice@pve", r.data["ticket"], f"totp:{fresh_code()}")
    expect(r2.status == 200, r2)
    other = Node.__new__(Node)
    other.__dict__.update(n.__dict__)
    other.ticket, other.csrf = r2.data["ticket"], r2.data["CSRFPreventionToken"]
    return other


@case
def tfa_api_permissions(n):
    bob = as_user(n, "bob@pve", "bob-secret-1")
    r = bob.get("/access/tfa/alice@pve")
    expect(r.status == 403, r)
    r = bob.post("/access/tfa/alice@pve", {"type": "recovery", "password": "bob-secret-1"})
    expect(r.status == 403, r)
    r = bob.get("/access/tfa")
    expect(r.status == 200 and r.data == [], r)
    r = n.get("/access/tfa")
    expect(r.status == 200 and "alice@pve" in [u["userid"] for u in r.data], r)
    entries = next(u["entries"] for u in r.data if u["userid"] == "alice@pve")
    totp_id = next(e["id"] for e in entries if e["type"] == "totp")
    r = n.get(f"/access/tfa/alice@pve/{totp_id}")
    expect(r.status == 200 and r.data["description"] == "phone", r)
    r = n.get("/access/tfa/alice@pve/nope")
    expect(r.status == 404, r)
    # Only root@pam changes root@pam's factors.
    r = n.post("/access/tfa/root@pam", {"type": "recovery", "password": n.admin_password})
    expect(r.status == 403, r)
    # Disabling the TOTP entry: alice still needs her recovery codes.
    r = n.request("PUT", f"/access/tfa/alice@pve/{totp_id}",
                  {"enable": 0, "description": "old phone", "password": n.admin_password})
    expect(r.status == 200, r)
    r = n.get(f"/access/tfa/alice@pve/{totp_id}")
    expect(r.data["description"] == "old phone" and r.data.get("enable") == 0, r)
    r = login1(n, "alice@pve", "alice-secret-1")
    expect(r.data.get("NeedTFA") == 1, r)
    r2 = login2(n, "alice@pve", r.data["ticket"], f"totp:{fresh_code()}")
    expect(r2.status == 401, r2)
    for id_ in (totp_id, "recovery"):
        r = n.request("DELETE", f"/access/tfa/alice@pve/{id_}", {"password": n.admin_password})
        expect(r.status == 200, r)
    r = login1(n, "alice@pve", "alice-secret-1")
    expect(r.status == 200 and "NeedTFA" not in r.data and r.data["ticket"].startswith("PVE:alice"), r)
    wait_unblocked()


@case
def rate_limit(n):
    with concurrent.futures.ThreadPoolExecutor(8) as pool:
        res = list(pool.map(lambda i: login1(n, "carol@pve", f"wrong-{i}"), range(5)))
    expect(all(r.status == 401 for r in res), res)
    # Past the limit (per user and address) even the right password waits for its turn ...
    t0 = time.time()
    r = login1(n, "carol@pve", "carol-secret-1")
    expect(r.status == 200 and time.time() - t0 >= 0.9, r)
    # ... while another user from the same address is not slowed down.
    t0 = time.time()
    r = login1(n, "bob@pve", "bob-secret-1")
    expect(r.status == 200 and time.time() - t0 < 0.9, r)
    wait_unblocked()
    # Per source: many users, one address: everybody from there waits.
    with concurrent.futures.ThreadPoolExecutor(16) as pool:
        res = list(pool.map(lambda i: login1(n, f"nobody{i}@pve", "x"), range(10)))
    expect(all(r.status == 401 for r in res), res)
    t0 = time.time()
    r = login1(n, "bob@pve", "bob-secret-1")
    expect(r.status == 200 and time.time() - t0 >= 0.9, r)
    # ... and it recovers when the window has passed.
    wait_unblocked()
    t0 = time.time()
    r = login1(n, "bob@pve", "bob-secret-1")
    expect(r.status == 200 and time.time() - t0 < 0.9, r)


@case
def audit_log(n):
    log = audit(n)
    lines = log.splitlines()
    expect(all(len(line.split(" ", 3)) == 4 for line in lines), log[-2000:])
    expect(any(" 127.0.0.1 alice@pve login ok" in line for line in lines), log[-2000:])
    expect(any(" 127.0.0.1 alice@pve login ok (second factor)" in line for line in lines),
           log[-2000:])
    expect(any(" carol@pve login failed: " in line for line in lines), log[-2000:])
    expect(any(" carol@pve login delayed " in line for line in lines),
           log[-2000:])
    expect(any("tfa entry added for user alice@pve" in line for line in lines), log[-2000:])
    # Permission changes (handlers-users.c) are logged too.
    r = n.request("PUT", "/access/acl", {"path": "/vms", "roles": "PVEAuditor",
                                        "users": "bob@pve"})
    expect(r.status == 200, r)
    log = audit(n)
    expect("acl" in log.splitlines()[-1] and "bob@pve" in log.splitlines()[-1], log[-500:])
    st = os.stat(n.path("var/log/pve/audit.log"))
    expect(st.st_mode & 0o077 == 0, oct(st.st_mode))


def tfa_cfg(n):
    try:
        with open(n.path("etc/pve/priv/tfa.cfg")) as f:
            return json.load(f)
    except FileNotFoundError:
        return {"users": {}}


@case
def unlock_tfa(n):
    r = n.post("/access/users", {"userid": "erin@pve", "password": "erin-secret-1"})
    expect(r.status == 200, r)
    r = n.post("/access/tfa/erin@pve", {"type": "totp", "totp": URI, "value": totp(),
                                        "password": n.admin_password})
    expect(r.status == 200, r)
    # Locked as Proxmox locks after too many wrong codes (pved reads the lock, it does not set it).
    cfg = tfa_cfg(n)
    cfg["users"]["erin@pve"].update({"totp-locked": True,
                                     "tfa-locked-until": int(time.time()) + 3600})
    with open(n.path("etc/pve/priv/tfa.cfg"), "w") as f:
        json.dump(cfg, f)
    r = n.get("/access/tfa")
    erin = next(u for u in r.data if u["userid"] == "erin@pve")
    expect(erin.get("totp-locked") is True and erin.get("tfa-locked-until", 0) > time.time(), erin)
    r = login1(n, "erin@pve", "erin-secret-1")
    expect(r.status == 200 and r.data.get("NeedTFA") == 1, r)
    r2 = login2(n, "erin@pve", r.data["ticket"], f"totp:{totp()}")
    expect(r2.status == 401, r2)
    # bob has no User.Modify: refused, and nothing changes.
    bob = as_user(n, "bob@pve", "bob-secret-1")
    r = bob.request("PUT", "/access/users/erin@pve/unlock-tfa", {})
    expect(r.status == 403, r)
    expect(tfa_cfg(n)["users"]["erin@pve"].get("totp-locked") is True, tfa_cfg(n))
    r = n.request("PUT", "/access/users/erin@pve/unlock-tfa", {})
    expect(r.status == 200 and r.data in (True, 1), r)
    u = tfa_cfg(n)["users"]["erin@pve"]
    expect("tfa-locked-until" not in u and not u.get("totp-locked") and len(u["totp"]) == 1, u)
    r = n.get("/access/tfa")
    erin = next(u for u in r.data if u["userid"] == "erin@pve")
    expect("totp-locked" not in erin and "tfa-locked-until" not in erin, erin)
    r = login1(n, "erin@pve", "erin-secret-1")
    r2 = login2(n, "erin@pve", r.data["ticket"], f"totp:{totp(30)}")
    expect(r2.status == 200 and r2.data["ticket"].startswith("PVE:erin@pve:"), r2)
    # Not locked (any more): false, for a user without entries too.
    for user in ("erin@pve", "bob@pve"):
        r = n.request("PUT", f"/access/users/{user}/unlock-tfa", {})
        expect(r.status == 200 and r.data in (False, 0), r)
    r = n.request("PUT", "/access/users/nobody@pve/unlock-tfa", {})
    expect(r.status in (400, 403, 404, 500) and r.status != 200, r)
    expect("tfa unlocked for user erin@pve" in audit(n), audit(n)[-500:])
    wait_unblocked()


@case
def delete_user_forgets_tfa(n):
    r = n.post("/access/users", {"userid": "dave@pve", "password": "dave-secret-1"})
    expect(r.status == 200, r)
    r = n.post("/access/tfa/dave@pve", {"type": "recovery", "password": n.admin_password})
    expect(r.status == 200 and len(r.data["recovery"]) == 10, r)
    expect("dave@pve" in tfa_cfg(n)["users"], tfa_cfg(n))
    before = {k: v for k, v in tfa_cfg(n)["users"].items() if k != "dave@pve"}
    r = n.request("DELETE", "/access/users/dave@pve")
    expect(r.status == 200, r)
    expect(tfa_cfg(n)["users"] == before, tfa_cfg(n))
    # A new user of the same name starts without second factors.
    r = n.post("/access/users", {"userid": "dave@pve", "password": "dave-secret-2"})
    expect(r.status == 200, r)
    r = n.get("/access/tfa/dave@pve")
    expect(r.status == 200 and r.data == [], r)
    r = login1(n, "dave@pve", "dave-secret-2")
    expect(r.status == 200 and "NeedTFA" not in r.data, r)
    # Deleting a user without entries leaves the file alone.
    r = n.request("DELETE", "/access/users/dave@pve")
    expect(r.status == 200 and tfa_cfg(n)["users"] == before, (r, tfa_cfg(n)))


def main():
    if os.geteuid() != 0:
        print("skip all: needs root")
        return 0
    if not shutil.which("oathtool"):
        print("skip all: no oathtool")
        return 0
    os.environ["PVED_LOGIN_FAIL_WINDOW"] = str(WINDOW)
    with Node() as n:
        n.login()
        return run(n)


if __name__ == "__main__":
    sys.exit(main())
