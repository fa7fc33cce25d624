"""The /access API end to end on a real pved: users with pve passwords, groups, roles, ACLs, API tokens
with privilege separation, effective permissions and password changes, over HTTPS and with proxmoxer
(Debian's python3-proxmoxer). Needs root."""

import base64
import os
import subprocess
import sys
import time
import urllib.parse

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
sys.path.append("/usr/lib/python3/dist-packages")
from pvetest import BIN, Node, Skip, case, expect, node_main  # noqa: E402


def user_cfg(n):
    with open(n.path("etc/pve/user.cfg")) as f:
        return f.read()


def put(n, path, params, **kw):
    return n.request("PUT", path, params, **kw)


def delete(n, path, params=None, **kw):
    return n.request("DELETE", path, params, **kw)


def as_user(n, user, password):
    """A second client of the same node, logged in as another user."""
    other = Node.__new__(Node)
    other.__dict__.update(n.__dict__)
    other.ticket = other.csrf = None
    other.login(user, password)
    return other


@case
def create_user_and_login(n):
    r = n.post("/access/users", {"userid": "alice@pve", "password": "alice-secret-1",
                                 "firstname": "Alice", "email": "alice@example.com",
                                 "comment": "ops: night"})
    expect(r.status == 200, r)
    cfg = user_cfg(n)
    expect("user:alice@pve:1:0:Alice::alice@example.com:ops%3A night::" in cfg, cfg)
    with open(n.path("etc/pve/priv/shadow.cfg")) as f:
        shadow = f.read()
    expect(shadow.count("\nalice:") + shadow.startswith("alice:") == 1, shadow)
    expect("alice-secret-1" not in shadow, "password stored in clear")
    alice = as_user(n, "alice@pve", "alice-secret-1")
    r = alice.get(f"/nodes/{n.name}/status")
    expect(r.status == 403, r)
    # Duplicate.
    r = n.post("/access/users", {"userid": "alice@pve"})
    expect(r.status == 500 and r.reason == "create user failed: user 'alice@pve' already exists", r)
    # Listed, with the digest; alice sees only herself.
    r = n.get("/access/users", {"full": 1})
    expect(r.status == 200 and {"alice@pve", "admin@pve"} <= {u["userid"] for u in r.data}, r)
    expect(len(r.json.get("digest", "")) == 40, r.json)
    r = alice.get("/access/users")
    expect(r.status == 200 and [u["userid"] for u in r.data] == ["alice@pve"], r)
    r = n.get("/access/users/alice@pve")
    expect(r.status == 200 and r.data["firstname"] == "Alice" and r.data["comment"] == "ops: night", r)
    r = n.get("/access/users/nobody@pve")
    expect(r.status == 500 and r.reason == "no such user ('nobody@pve')", r)


@case
def acl_grants_access(n):
    alice = as_user(n, "alice@pve", "alice-secret-1")
    r = put(n, "/access/acl", {"path": "/", "roles": "PVEAuditor", "users": "alice@pve"})
    expect(r.status == 200, r)
    expect("acl:1:/:alice@pve:PVEAuditor:" in user_cfg(n), user_cfg(n))
    r = alice.get(f"/nodes/{n.name}/status")
    expect(r.status == 200, r)
    r = alice.get("/access/permissions", {"path": "/nodes"})
    expect(r.status == 200 and r.data["/nodes"].get("Sys.Audit") == 1, r)
    expect("Sys.Modify" not in r.data["/nodes"], r)
    r = n.get("/access/acl")
    expect(any(a["ugid"] == "alice@pve" and a["roleid"] == "PVEAuditor" and a["type"] == "user"
               and a["propagate"] == 1 for a in r.data), r)
    # alice may not hand out permissions.
    r = put(alice, "/access/acl", {"path": "/", "roles": "Administrator", "users": "alice@pve"})
    expect(r.status == 403, r)
    r = put(n, "/access/acl", {"path": "/", "roles": "PVEAuditor", "users": "alice@pve", "delete": 1})
    expect(r.status == 200, r)
    r = alice.get(f"/nodes/{n.name}/status")
    expect(r.status == 403, r)


@case
def groups_and_group_acls(n):
    r = n.post("/access/groups", {"groupid": "ops", "comment": "Operators"})
    expect(r.status == 200, r)
    r = n.post("/access/users", {"userid": "bob@pve", "password": "bob-secret-12", "groups": "ops"})
    expect(r.status == 200, r)
    expect("group:ops:bob@pve:Operators:" in user_cfg(n), user_cfg(n))
    bob = as_user(n, "bob@pve", "bob-secret-12")
    expect(bob.get(f"/nodes/{n.name}/status").status == 403, "bob has access before the ACL")
    r = put(n, "/access/acl", {"path": "/nodes", "roles": "PVEAuditor", "groups": "ops"})
    expect(r.status == 200, r)
    expect(bob.get(f"/nodes/{n.name}/status").status == 200, "group ACL not applied")
    r = n.get("/access/groups/ops")
    expect(r.status == 200 and r.data["members"] == ["bob@pve"] and r.data["comment"] == "Operators", r)
    r = n.get("/access/groups")
    expect(any(g["groupid"] == "ops" and g["users"] == "bob@pve" for g in r.data), r)
    # PUT with append adds; without replaces.
    n.post("/access/groups", {"groupid": "dev"})
    r = put(n, "/access/users/bob@pve", {"groups": "dev", "append": 1})
    expect(r.status == 200 and sorted(n.get("/access/users/bob@pve").data["groups"]) == ["dev", "ops"], r)
    r = put(n, "/access/users/bob@pve", {"groups": "dev"})
    expect(n.get("/access/users/bob@pve").data["groups"] == ["dev"], r)
    expect(bob.get(f"/nodes/{n.name}/status").status == 403, "removed from ops but still allowed")
    r = delete(n, "/access/groups/dev")
    expect(r.status == 200 and "group:dev" not in user_cfg(n), r)
    r = delete(n, "/access/groups/ops")
    expect(r.status == 200 and "@ops" not in user_cfg(n), user_cfg(n))


@case
def roles_crud(n):
    r = n.get("/access/roles")
    roles = {x["roleid"]: x for x in r.data}
    expect(roles["PVEAuditor"].get("special") == 1 and "Sys.Audit" in roles["PVEAuditor"]["privs"], r)
    r = n.post("/access/roles", {"roleid": "Watcher", "privs": "Sys.Audit,VM.Audit"})
    expect(r.status == 200 and "role:Watcher:Sys.Audit,VM.Audit:" in user_cfg(n), r)
    r = n.get("/access/roles/Watcher")
    expect(r.data == {"Sys.Audit": 1, "VM.Audit": 1}, r)
    r = put(n, "/access/roles/Watcher", {"privs": "Datastore.Audit", "append": 1})
    expect(r.status == 200 and "role:Watcher:Datastore.Audit,Sys.Audit,VM.Audit:" in user_cfg(n), r)
    r = put(n, "/access/roles/PVEAdmin", {"privs": "Sys.Audit"})
    expect(r.status == 500 and "cannot be modified" in r.reason, r)
    r = n.post("/access/roles", {"roleid": "Bad", "privs": "Sys.Nothing"})
    expect(r.status == 400 and "privs" in (r.json.get("errors") or {}), r)
    r = put(n, "/access/acl", {"path": "/vms", "roles": "Watcher", "users": "alice@pve"})
    expect(r.status == 200, r)
    r = delete(n, "/access/roles/Watcher")
    expect(r.status == 200 and "Watcher" not in user_cfg(n), user_cfg(n))


@case
def tokens_and_privsep(n):
    r = n.post("/access/users/alice@pve/token/ci", {"comment": "CI"})
    expect(r.status == 200 and r.data["full-tokenid"] == "alice@pve!ci", r)
    expect(r.data["info"]["privsep"] == 1, r)
    value = r.data["value"]
    with open(n.path("etc/pve/priv/token.cfg")) as f:
        expect(value not in f.read(), "token secret stored in clear")
    expect("token:alice@pve!ci:0:1:CI:" in user_cfg(n), user_cfg(n))
    tok = "alice@pve!ci=" + value
    r = n.get("/version", ticket="", token=tok)
    expect(r.status == 200, r)
    put(n, "/access/acl", {"path": "/", "roles": "PVEAuditor", "users": "alice@pve"})
    # privsep without its own ACL: nothing.
    r = n.get(f"/nodes/{n.name}/status", ticket="", token=tok)
    expect(r.status == 403, r)
    r = put(n, "/access/acl", {"path": "/", "roles": "PVEAuditor", "tokens": "alice@pve!ci"})
    expect(r.status == 200, r)
    r = n.get(f"/nodes/{n.name}/status", ticket="", token=tok)
    expect(r.status == 200, r)
    # A token of a non-privsep kind has the user's privileges.
    r = n.post("/access/users/alice@pve/token/full", {"privsep": 0})
    full = "alice@pve!full=" + r.data["value"]
    expect(n.get(f"/nodes/{n.name}/status", ticket="", token=full).status == 200, "privsep=0")
    r = n.get("/access/users/alice@pve/token")
    expect(sorted(t["tokenid"] for t in r.data) == ["ci", "full"], r)
    r = put(n, "/access/users/alice@pve/token/ci", {"comment": "changed"})
    expect(r.status == 200 and r.data["comment"] == "changed", r)
    r = n.get("/access/users/alice@pve/token/ci")
    expect(r.status == 200 and r.data["comment"] == "changed", r)
    # A token is not its user: "self" is the whole token id, as Proxmox compares it, so without
    # User.Modify it may not even list its user's tokens.
    r = n.get("/access/users/alice@pve/token", ticket="", token=tok)
    expect(r.status == 403, r)
    # Not with a token: password.
    r = put(n, "/access/password", {"userid": "alice@pve", "password": "x" * 10}, ticket="", token=tok)
    expect(r.status == 401, r)
    r = delete(n, "/access/users/alice@pve/token/ci")
    expect(r.status == 200, r)
    expect("alice@pve!ci" not in user_cfg(n), user_cfg(n))
    r = n.get("/version", ticket="", token=tok)
    expect(r.status == 401, r)
    delete(n, "/access/users/alice@pve/token/full")
    put(n, "/access/acl", {"path": "/", "roles": "PVEAuditor", "users": "alice@pve", "delete": 1})


@case
def bad_input_is_400_and_changes_nothing(n):
    before = user_cfg(n)
    for path, params, param in [
            ("/access/users", {"userid": "no-realm"}, "userid"),
            ("/access/users", {"userid": "x@nosuchrealm"}, "userid"),
            ("/access/users", {"userid": "carol@pve", "password": "short"}, "password"),
            ("/access/groups", {"groupid": "bad:name"}, "groupid")]:
        r = n.post(path, params)
        expect(r.status == 400 and param in (r.json.get("errors") or {}), (path, params, r))
    # Proxmox's "does not exist" under the lock: a 500 (test-proxmox-errors.py has the texts).
    r = n.post("/access/users", {"userid": "carol@pve", "groups": "nosuchgroup"})
    expect(r.status == 500 and "no such group 'nosuchgroup'" in r.reason, r)
    for params, status in [({"path": "/", "roles": "NoSuchRole", "users": "alice@pve"}, 500),
                           ({"path": "/", "roles": "PVEAuditor", "users": "ghost@pve"}, 500),
                           ({"path": "/", "roles": "PVEAuditor", "groups": "ghosts"}, 500),
                           ({"path": "/nothing/here", "roles": "PVEAuditor",
                             "users": "alice@pve"}, 400)]:
        r = put(n, "/access/acl", params)
        expect(r.status == status, (params, r))
    # As in Proxmox, these calls take no digest.
    r = put(n, "/access/users/alice@pve", {"comment": "x", "digest": "1" * 40})
    expect(r.status == 400 and "digest" in r.json.get("errors", {}), r)
    expect(user_cfg(n) == before, "user.cfg changed by failed calls")


@case
def password_change(n):
    alice = as_user(n, "alice@pve", "alice-secret-1")
    r = put(alice, "/access/password", {"userid": "alice@pve", "password": "alice-secret-2",
                                         "confirmation-password": "alice-secret-1"})
    expect(r.status == 200, r)
    as_user(n, "alice@pve", "alice-secret-2")
    r = n.post("/access/ticket", {"username": "alice@pve", "password": "alice-secret-1"}, ticket="")
    expect(r.status == 401, r)
    # alice may not change bob's.
    r = put(alice, "/access/password", {"userid": "bob@pve", "password": "bob-secret-99",
                                         "confirmation-password": "alice-secret-2"})
    expect(r.status == 403, r)
    r = put(n, "/access/password", {"userid": "bob@pve", "password": "bob-secret-99",
                                     "confirmation-password": n.admin_password})
    expect(r.status == 200, r)
    as_user(n, "bob@pve", "bob-secret-99")


@case
def delete_user_removes_everything(n):
    n.post("/access/users", {"userid": "dave@pve", "password": "dave-secret-1"})
    r = n.post("/access/users/dave@pve/token/t1")
    tok = "dave@pve!t1=" + r.data["value"]
    put(n, "/access/acl", {"path": "/vms", "roles": "PVEVMUser", "users": "dave@pve",
                           "tokens": "dave@pve!t1"})
    r = delete(n, "/access/users/dave@pve")
    expect(r.status == 200, r)
    cfg = user_cfg(n)
    expect("dave" not in cfg, cfg)
    for rel in ("etc/pve/priv/shadow.cfg", "etc/pve/priv/token.cfg"):
        with open(n.path(rel)) as f:
            expect("dave" not in f.read(), rel)
    expect(n.get("/version", ticket="", token=tok).status == 401, "token still works")
    r = n.post("/access/ticket", {"username": "dave@pve", "password": "dave-secret-1"}, ticket="")
    expect(r.status == 401, r)


@case
def permissions_of_others_need_audit(n):
    alice = as_user(n, "alice@pve", "alice-secret-2")
    r = alice.get("/access/permissions", {"userid": "admin@pve"})
    expect(r.status == 403, r)
    r = n.get("/access/permissions", {"userid": "alice@pve"})
    expect(r.status == 200 and isinstance(r.data, dict), r)
    r = n.get("/access/permissions")
    expect(r.status == 200 and r.data["/"].get("Permissions.Modify") == 1, r)


@case
def proxmoxer_manages_access(n):
    try:
        from proxmoxer import ProxmoxAPI
    except ImportError as e:
        raise Skip(f"proxmoxer not installed: {e}")
    import warnings
    warnings.filterwarnings("ignore")
    px = ProxmoxAPI("127.0.0.1", port=n.port, user="admin@pve", password=n.admin_password,
                    verify_ssl=False)
    px.access.groups.post(groupid="pxgroup", comment="from proxmoxer")
    px.access.users.post(userid="pxuser@pve", password="pxuser-secret", groups="pxgroup")
    expect("pxuser@pve" in [u["userid"] for u in px.access.users.get()], "user not listed")
    px.access.acl.put(path="/storage", roles="PVEDatastoreUser", groups="pxgroup")
    expect(any(a["ugid"] == "pxgroup" for a in px.access.acl.get()), "acl not listed")
    tok = px.access.users("pxuser@pve").token("px").post(privsep=0)
    pt = ProxmoxAPI("127.0.0.1", port=n.port, user="pxuser@pve", token_name="px",
                    token_value=tok["value"], verify_ssl=False)
    expect(pt.version.get()["version"], "token login failed")
    perms = pt.access.permissions.get(path="/storage")
    expect(perms["/storage"].get("Datastore.Audit") == 1, perms)
    px.access.users("pxuser@pve").token("px").delete()
    px.access.users("pxuser@pve").delete()
    px.access.groups("pxgroup").delete()
    expect("pxuser" not in user_cfg(n) and "pxgroup" not in user_cfg(n), user_cfg(n))


@case
def group_delegated_user_admin(n):
    """User.Modify on one group (not on /access/groups) and Realm.AllocateUser on the realm: the route
    table's userid-group checks, as Proxmox declares them for the user routes."""
    for g in ("gops", "gother"):
        expect(n.post("/access/groups", {"groupid": g}).status == 200, g)
    for userid, group in (("carl@pve", None), ("mem1@pve", "gops"), ("out1@pve", "gother")):
        params = {"userid": userid, "password": "delegate-pw-1"}
        if group:
            params["groups"] = group
        expect(n.post("/access/users", params).status == 200, userid)
    for path in ("/access/groups/gops", "/access/realm/pve"):
        r = put(n, "/access/acl", {"path": path, "roles": "PVEUserAdmin,PVEAuditor",
                                   "users": "carl@pve"})
        expect(r.status == 200, r)
    carl = as_user(n, "carl@pve", "delegate-pw-1")
    # Read: members of the group only; an unknown user is not told apart from a forbidden one.
    expect(carl.get("/access/users/mem1@pve").status == 200, "member not readable")
    expect(carl.get("/access/users/out1@pve").status == 403, "non-member readable")
    expect(carl.get("/access/users/nosuch@pve").status == 403, "unknown user told apart")
    # Proxmox's check_user_exist dies: a plain 500.
    expect(n.get("/access/users/nosuch@pve").status == 500, "admin not told of an unknown user")
    # Update: the member, naming only groups carl holds (Proxmox's groups_param 'update' asks for
    # at least one).
    r = put(carl, "/access/users/mem1@pve", {"comment": "by carl", "groups": "gops"})
    expect(r.status == 200, r)
    expect(put(carl, "/access/users/mem1@pve", {"comment": "x"}).status == 403, "no groups given")
    expect(put(carl, "/access/users/mem1@pve", {"groups": "gother"}).status == 403, "foreign group")
    expect(put(carl, "/access/users/out1@pve", {"groups": "gops"}).status == 403, "non-member")
    # Create: into carl's group only.
    r = carl.post("/access/users", {"userid": "new1@pve", "groups": "gops"})
    expect(r.status == 200, r)
    expect(carl.post("/access/users", {"userid": "new2@pve"}).status == 403, "created groupless")
    r = carl.post("/access/users", {"userid": "new3@pve", "groups": "gother"})
    expect(r.status == 403, r)
    expect("new2@pve" not in user_cfg(n) and "new3@pve" not in user_cfg(n), user_cfg(n))
    # Password and delete: members only.
    r = put(carl, "/access/password", {"userid": "mem1@pve", "password": "delegate-pw-2",
                                        "confirmation-password": "delegate-pw-1"})
    expect(r.status == 200, r)
    r = put(carl, "/access/password", {"userid": "out1@pve", "password": "delegate-pw-2",
                                        "confirmation-password": "delegate-pw-1"})
    expect(r.status == 403, r)
    # Tokens: of members only (Proxmox's userid-group; there is no ACL path /access/users/...).
    r = carl.post("/access/users/mem1@pve/token/t1", {"privsep": 1})
    expect(r.status == 200 and r.data.get("full-tokenid") == "mem1@pve!t1", r)
    expect(carl.get("/access/users/mem1@pve/token").status == 200, "member's tokens not listed")
    expect(carl.post("/access/users/out1@pve/token/t1", {}).status == 403, "non-member's token")
    expect(carl.get("/access/users/out1@pve/token").status == 403, "non-member's tokens listed")
    expect(delete(carl, "/access/users/mem1@pve/token/t1").status == 200, "member's token kept")
    expect(delete(carl, "/access/users/out1@pve").status == 403, "deleted a non-member")
    expect(delete(carl, "/access/users/new1@pve").status == 200, "member not deleted")
    # ACLs: carl holds no Permissions.Modify anywhere.
    r = put(carl, "/access/acl", {"path": "/", "roles": "PVEAuditor", "users": "mem1@pve"})
    expect(r.status == 403, r)
    for userid in ("carl@pve", "mem1@pve", "out1@pve"):
        delete(n, f"/access/users/{userid}")
    for g in ("gops", "gother"):
        delete(n, f"/access/groups/{g}")


def sign_ticket(n, userid, when=None):
    """A ticket for userid signed with the node's own key, as only pved could make one."""
    plain = f"PVE:{userid}:{int(when or time.time()):08X}"
    sig = subprocess.run(["openssl", "dgst", "-sha256", "-sign", n.path("etc/pve/priv/authkey.key")],
                         input=plain.encode(), check=True, capture_output=True).stdout
    return plain + "::" + base64.b64encode(sig).decode()


@case
def ticket_of_a_token_id_opens_nothing(n):
    """A ticket names a user: one signed for a token id (only pved could make it) is refused, as a
    token authenticates with its secret only."""
    expect(n.post("/access/users/admin@pve/token/tk", {"privsep": 0}).status == 200, "token")
    try:
        r = n.get("/access/permissions", ticket=sign_ticket(n, "admin@pve!tk"))
        expect(r.status == 401, r)
        expect(n.get("/access/permissions", ticket=sign_ticket(n, "admin@pve")).status == 200,
               "a ticket signed for the user itself")
    finally:
        n.request("DELETE", "/access/users/admin@pve/token/tk")


def wait_for(cond, what, timeout=5):
    deadline = time.time() + timeout
    while time.time() < deadline:
        if cond():
            return
        time.sleep(0.1)
    raise AssertionError(what)


@case
def bang_userids_refused(n):
    """B1: a userid never holds a '!'. A delegated user admin (Realm.AllocateUser on the realm,
    User.Modify on one group) cannot create "admin@pve!x@pve", which pved once took for admin@pve (the
    part before the '!') in its self checks; user.cfg holding one does not load."""
    expect(n.post("/access/groups", {"groupid": "gbang"}).status == 200, "group")
    expect(n.post("/access/users", {"userid": "deleg@pve", "password": "deleg-pw-1"}).status == 200,
           "deleg")
    for path in ("/access/groups/gbang", "/access/realm/pve"):
        r = put(n, "/access/acl", {"path": path, "roles": "PVEUserAdmin", "users": "deleg@pve"})
        expect(r.status == 200, r)
    deleg = as_user(n, "deleg@pve", "deleg-pw-1")
    # The control: a plain name in deleg's group is allowed.
    r = deleg.post("/access/users", {"userid": "plain1@pve", "groups": "gbang"})
    expect(r.status == 200, r)
    before = user_cfg(n)
    for userid in ("admin@pve!x@pve", "deleg@pve!x@pve", "root@pam!x@pve", "a!b@pve"):
        r = deleg.post("/access/users", {"userid": userid, "groups": "gbang",
                                         "password": "bang-pw-123"})
        expect(r.status == 400 and "userid" in (r.json.get("errors") or {}), (userid, r))
        r = n.post("/access/users", {"userid": userid, "password": "bang-pw-123"})
        expect(r.status == 400 and "userid" in (r.json.get("errors") or {}), (userid, r))
    # Nor can anything be done to such a name elsewhere in the API.
    for method, path, params in (
            ("POST", "/access/users/admin@pve!x@pve/token/tk", {"privsep": 0}),
            ("PUT", "/access/password", {"userid": "admin@pve!x@pve", "password": "bang-pw-123",
                                         "confirmation-password": n.admin_password}),
            ("PUT", "/access/acl", {"path": "/", "roles": "Administrator",
                                    "users": "admin@pve!x@pve"})):
        r = n.request(method, urllib.parse.quote(path, safe="/@!"), params)
        expect(r.status == 400, (method, path, r))
    expect(user_cfg(n) == before, user_cfg(n))

    # Planted by hand (with a password and a group), user.cfg does not load: pved keeps what it had
    # and says why; `pved --check` names the line. Proxmox's parser takes the name, but pved's
    # identities never hold a '!'.
    with open(n.path("etc/pve/priv/shadow.cfg")) as f:
        shadow = f.read()
    hashed = [line for line in shadow.splitlines() if line.startswith("deleg:")][0].split(":")[1]
    planted = before + "user:admin@pve!x@pve:1:0::::::\n"
    try:
        with open(n.path("etc/pve/priv/shadow.cfg"), "a") as f:
            f.write(f"admin@pve!x:{hashed}:\n")
        with open(n.path("etc/pve/user.cfg.new"), "w") as f:
            f.write(planted)
        os.rename(n.path("etc/pve/user.cfg.new"), n.path("etc/pve/user.cfg"))
        wait_for(lambda: "keeping the previous access configuration" in n.logtext(),
                 "pved did not say it kept its configuration: " + n.logtext()[-500:])
        expect("invalid user id 'admin@pve!x@pve'" in n.logtext(), n.logtext()[-500:])
        out = subprocess.run([os.path.join(BIN, "pved"), "--root", n.root, "--check"],
                             capture_output=True, text=True, timeout=20)
        expect(out.returncode != 0 and "admin@pve!x@pve" in out.stdout + out.stderr,
               out.stdout + out.stderr)
        r = n.post("/access/ticket", {"username": "admin@pve!x@pve", "password": "deleg-pw-1"},
                   ticket="")
        expect(r.status == 401, r)
        # Even a ticket signed for the name opens nothing, as admin@pve or as anyone.
        t = sign_ticket(n, "admin@pve!x@pve")
        r = n.get("/access/permissions", ticket=t)
        expect(r.status == 401, r)
        # What was loaded before still works.
        expect(as_user(n, "deleg@pve", "deleg-pw-1").get("/version").status == 200, "deleg")
    finally:
        with open(n.path("etc/pve/priv/shadow.cfg"), "w") as f:
            f.write(shadow)
        with open(n.path("etc/pve/user.cfg.new"), "w") as f:
            f.write(before)
        os.rename(n.path("etc/pve/user.cfg.new"), n.path("etc/pve/user.cfg"))
    for userid in ("plain1@pve", "deleg@pve"):
        delete(n, f"/access/users/{userid}")
    delete(n, "/access/groups/gbang")


def token_mgmt_refused(n, tok, owner, label):
    """Every way a token could change tokens, its user's password or its user's second factors."""
    cfg = user_cfg(n)
    tfa = open(n.path("etc/pve/priv/tfa.cfg")).read() if os.path.exists(
        n.path("etc/pve/priv/tfa.cfg")) else ""
    for method, path, params, want in (
            ("POST", f"/access/users/{owner}/token/made", {"privsep": 0}, 403),
            ("POST", f"/access/users/{owner}/token/made", {"privsep": 1}, 403),
            ("PUT", f"/access/users/{owner}/token/sep", {"privsep": 0}, 403),
            ("PUT", f"/access/users/{owner}/token/full", {"privsep": 1}, 403),
            ("PUT", f"/access/users/{owner}/token/sep", {"comment": "x"}, 403),
            ("DELETE", f"/access/users/{owner}/token/full", None, 403),
            ("DELETE", f"/access/users/{owner}/token/sep", None, 403),
            ("POST", f"/access/users/other@pve/token/made", {"privsep": 0}, 403),
            ("PUT", "/access/password", {"userid": owner, "password": "taken-over-1",
                                         "confirmation-password": "tokpw-alice-1"}, 401),
            ("POST", f"/access/tfa/{owner}", {"type": "recovery", "password": "tokpw-alice-1"}, 401),
            ("DELETE", f"/access/tfa/{owner}/recovery", {"password": "tokpw-alice-1"}, 401)):
        r = n.request(method, path, params, ticket="", token=tok)
        expect(r.status == want, (label, method, path, params, r))
    expect(user_cfg(n) == cfg, (label, "user.cfg changed", user_cfg(n)))
    now_tfa = open(n.path("etc/pve/priv/tfa.cfg")).read() if os.path.exists(
        n.path("etc/pve/priv/tfa.cfg")) else ""
    expect(now_tfa == tfa, (label, "tfa.cfg changed"))


@case
def tokens_never_manage_tokens(n):
    """B2: a privsep=1 token once passed "self" as its user: it made a privsep=0 token (or set its own
    privsep to 0) and had all its user's privileges. Tokens of both kinds now never make, change or
    delete tokens, nor change their user's password or second factors; "self" is the whole token id.
    Proxmox compares "self" the same way; beyond it, Proxmox lets a token with User.Modify manage tokens
    (its own ACL, or its user's for privsep=0): pved does not, not even then."""
    for userid in ("tokuser@pve", "other@pve"):
        r = n.post("/access/users", {"userid": userid, "password": "tokpw-alice-1"})
        expect(r.status == 200, r)
    toks = {}
    for name, privsep in (("sep", 1), ("full", 0)):
        r = n.post(f"/access/users/tokuser@pve/token/{name}", {"privsep": privsep})
        expect(r.status == 200, r)
        toks[name] = f"{r.data['full-tokenid']}={r.data['value']}"
    # Without any privilege: the route's check already refuses (self is the whole id).
    token_mgmt_refused(n, toks["sep"], "tokuser@pve", "privsep=1, no ACL")
    token_mgmt_refused(n, toks["full"], "tokuser@pve", "privsep=0, no ACL")
    r = n.get("/access/users/tokuser@pve/token", ticket="", token=toks["sep"])
    expect(r.status == 403, r)
    # With User.Modify everywhere (the user's ACL for privsep=0, the token's own for privsep=1),
    # which passes the route's check: the handler still refuses tokens.
    for params in ({"users": "tokuser@pve"}, {"tokens": "tokuser@pve!sep"}):
        r = put(n, "/access/acl", dict(params, path="/", roles="PVEUserAdmin"))
        expect(r.status == 200, r)
    token_mgmt_refused(n, toks["sep"], "tokuser@pve", "privsep=1, User.Modify")
    token_mgmt_refused(n, toks["full"], "tokuser@pve", "privsep=0, User.Modify")
    r = n.get("/access/users/tokuser@pve/token", ticket="", token=toks["sep"])
    expect(r.status == 200 and sorted(t["tokenid"] for t in r.data) == ["full", "sep"], r)
    # The user itself (a ticket) manages its own tokens; a privsep=0 token made by the user works.
    me = as_user(n, "tokuser@pve", "tokpw-alice-1")
    r = me.post("/access/users/tokuser@pve/token/mine", {"privsep": 1})
    expect(r.status == 200, r)
    r = put(me, "/access/users/tokuser@pve/token/mine", {"comment": "by the user"})
    expect(r.status == 200, r)
    expect(delete(me, "/access/users/tokuser@pve/token/mine").status == 200, "delete own token")
    for params in ({"users": "tokuser@pve"}, {"tokens": "tokuser@pve!sep"}):
        put(n, "/access/acl", dict(params, path="/", roles="PVEUserAdmin", delete=1))

    # Permissions: a token sees its own, not its user's nor a sibling's; the user sees its tokens'.
    for who, want in (("tokuser@pve!sep", 200), ("tokuser@pve", 403), ("tokuser@pve!full", 403)):
        r = n.get("/access/permissions", {"userid": who}, ticket="", token=toks["sep"])
        expect(r.status == want, (who, r))
    for who in ("tokuser@pve", "tokuser@pve!sep", "tokuser@pve!full"):
        r = me.get("/access/permissions", {"userid": who})
        expect(r.status == 200, (who, r))
    r = me.get("/access/permissions", {"userid": "other@pve"})
    expect(r.status == 403, r)
    # The user list shows a token no user unless it may see them.
    r = n.get("/access/users", ticket="", token=toks["sep"])
    expect(r.status == 200 and r.data == [], r)
    r = me.get("/access/users")
    expect(r.status == 200 and [u["userid"] for u in r.data] == ["tokuser@pve"], r)

    # Tasks: a user owns its tokens' tasks; a token only its own.
    r = put(n, "/access/acl", {"path": "/", "roles": "PVEVMAdmin", "users": "tokuser@pve"})
    expect(r.status == 200, r)
    r = n.post(f"/nodes/{n.name}/startall", {}, ticket="", token=toks["full"])
    expect(r.status == 200, r)
    upid = r.data
    n.wait_task(upid)
    put(n, "/access/acl", {"path": "/", "roles": "PVEVMAdmin", "users": "tokuser@pve", "delete": 1})
    q = urllib.parse.quote(upid, safe="")
    for client, kw, want in ((me, {}, 200), (n, {"ticket": "", "token": toks["full"]}, 200),
                             (n, {"ticket": "", "token": toks["sep"]}, 403),
                             (as_user(n, "other@pve", "tokpw-alice-1"), {}, 403)):
        r = client.get(f"/nodes/{n.name}/tasks/{q}/status", **kw)
        expect(r.status == want, (kw, r))
    for userid in ("tokuser@pve", "other@pve"):
        delete(n, f"/access/users/{userid}")


@case
def password_confirmation(n):
    """PUT /access/password: whoever is not root@pam confirms with their own current password
    (Proxmox's confirmation-password, checked against the caller's realm), not the target's."""
    for userid, pw in (("conf@pve", "conf-pw-1"), ("conft@pve", "conft-pw-1")):
        expect(n.post("/access/users", {"userid": userid, "password": pw}).status == 200, userid)
    me = as_user(n, "conf@pve", "conf-pw-1")
    r = put(me, "/access/password", {"userid": "conf@pve", "password": "conf-pw-2"})
    expect(r.status == 400 and (r.json.get("errors") or {}).get("confirmation-password")
           == "password is required to modify user", r)
    r = put(me, "/access/password", {"userid": "conf@pve", "password": "conf-pw-2",
                                     "confirmation-password": "not-my-pw"})
    expect(r.status == 403 and r.json.get("message", "").startswith("authentication failure"), r)
    expect(n.audited("password change refused: wrong password", user="conf@pve"), n.audit_lines()[-3:])
    # Nothing changed: the old password still logs in, the new one does not.
    as_user(n, "conf@pve", "conf-pw-1")
    r = n.post("/access/ticket", {"username": "conf@pve", "password": "conf-pw-2"}, ticket="")
    expect(r.status == 401, r)
    r = put(me, "/access/password", {"userid": "conf@pve", "password": "conf-pw-2",
                                     "confirmation-password": "conf-pw-1"})
    expect(r.status == 200, r)
    as_user(n, "conf@pve", "conf-pw-2")
    # An administrator confirms with its own password, never the target's.
    r = put(n, "/access/password", {"userid": "conft@pve", "password": "conft-pw-2"})
    expect(r.status == 400 and "confirmation-password" in (r.json.get("errors") or {}), r)
    r = put(n, "/access/password", {"userid": "conft@pve", "password": "conft-pw-2",
                                    "confirmation-password": "conft-pw-1"})
    expect(r.status == 403, r)
    r = put(n, "/access/password", {"userid": "conft@pve", "password": "conft-pw-2",
                                    "confirmation-password": n.admin_password})
    expect(r.status == 200, r)
    as_user(n, "conft@pve", "conft-pw-2")
    # root@pam (pvectl on the local socket) needs none.
    pvectl = os.path.join(BIN, "pvectl")
    out = subprocess.run([pvectl, "--root", n.root, "set", "/access/password", "--userid",
                          "conft@pve", "--password", "conft-pw-3"],
                         capture_output=True, text=True, timeout=20)
    expect(out.returncode == 0, out.stdout + out.stderr)
    as_user(n, "conft@pve", "conft-pw-3")
    for userid in ("conf@pve", "conft@pve"):
        delete(n, f"/access/users/{userid}")


if __name__ == "__main__":
    sys.exit(node_main())
