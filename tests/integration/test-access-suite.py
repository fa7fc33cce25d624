"""GET /access/permissions against Proxmox's own api-get-permissions-test (pve-access-control
src/test): its 32 cases over its fixture (api-get-permissions-test.cfg: auditor@pam and stranger@pve,
each with a token with and one without privilege separation), the answers written out as Proxmox's
get_effective_permissions gives them for that fixture. Then what the map holds as Proxmox has it:
propagate flags, the pool members in the whole-tree answer, disabled and expired users, and "" as no
path. Needs root."""

import base64
import os
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from pvetest import Node, case, expect, run  # noqa: E402


def sign_ticket(n, userid):
    """A ticket for userid signed with the node's own key (auditor@pam has no PAM account here)."""
    plain = f"PVE:{userid}:{int(time.time()):08X}"
    sig = subprocess.run(["openssl", "dgst", "-sha256", "-sign", n.path("etc/pve/priv/authkey.key")],
                         input=plain.encode(), check=True, capture_output=True).stdout
    return plain + "::" + base64.b64encode(sig).decode()


def put(n, path, params):
    return n.request("PUT", path, params)


def ok(r, what):
    expect(r.status == 200, (what, r))
    return r


# api-get-permissions-test.cfg, made through the API.
def make_fixture(n):
    tokens = {}
    for user in ("auditor@pam", "stranger@pve"):
        ok(n.post("/access/users", {"userid": user}), user)
    for role, privs in (("sys_auditor", "Sys.Audit"), ("vm_lurker", "VM.Audit,VM.Console"),
                        ("vm_manager", "VM.PowerMgmt")):
        ok(n.post("/access/roles", {"roleid": role, "privs": privs}), role)
    for user in ("auditor@pam", "stranger@pve"):
        for name, privsep in (("noprivsep", 0), ("privsep", 1)):
            r = ok(n.post(f"/access/users/{user}/token/{name}", {"privsep": privsep}), name)
            tokens[f"{user}!{name}"] = f"{r.data['full-tokenid']}={r.data['value']}"
    for path, who, roles in (("/access", {"users": "auditor@pam"}, "sys_auditor"),
                             ("/vms", {"users": "auditor@pam"}, "vm_lurker"),
                             ("/vms", {"tokens": "auditor@pam!privsep"}, "vm_lurker"),
                             ("/vms", {"users": "stranger@pve"}, "vm_lurker,vm_manager"),
                             ("/vms", {"tokens": "stranger@pve!privsep"}, "vm_lurker")):
        ok(put(n, "/access/acl", dict(who, path=path, roles=roles)), (path, who))
    return tokens


# What Proxmox's get_effective_permissions answers for each of them on that fixture: the top paths
# and the ACL paths where something is granted, every flag 1 (all ACLs propagate).
STRANGER = {"/vms": {"VM.Audit": 1, "VM.Console": 1, "VM.PowerMgmt": 1}}
STRANGER_PRIVSEP = {"/vms": {"VM.Audit": 1, "VM.Console": 1}}
AUDITOR = {"/access": {"Sys.Audit": 1}, "/access/groups": {"Sys.Audit": 1},
           "/vms": {"VM.Audit": 1, "VM.Console": 1}}
AUDITOR_PRIVSEP = {"/vms": {"VM.Audit": 1, "VM.Console": 1}}
FAIL = "fail"

# (description, rpcuser, userid param, result): the test's six groups in its order.
CASES = [
    ("get stranger's perms without passing the user's userid", "stranger@pve", None, STRANGER),
    ("get stranger's perms with passing the user's userid", "stranger@pve", "stranger@pve", STRANGER),
    ("get stranger-owned non-priv-sep'd token's perms from stranger user", "stranger@pve",
     "stranger@pve!noprivsep", STRANGER),
    ("get stranger-owned priv-sep'd token's perms from stranger user", "stranger@pve",
     "stranger@pve!privsep", STRANGER_PRIVSEP),
    ("get auditor's perms from stranger user", "stranger@pve", "auditor@pam", FAIL),
    ("get auditor-owned token's perms from stranger user", "stranger@pve", "auditor@pam!noprivsep", FAIL),

    ("get stranger-owned non-priv-sep'd token's perms without passing the token",
     "stranger@pve!noprivsep", None, STRANGER),
    ("get stranger-owned non-priv-sep'd token's perms with passing the token", "stranger@pve!noprivsep",
     "stranger@pve!noprivsep", STRANGER),
    ("get stranger's perms from stranger-owned non-priv-sep'd token", "stranger@pve!noprivsep",
     "stranger@pve", FAIL),
    ("get stranger-owned priv-sep'd token's perms from stranger-owned non-priv-sep'd token",
     "stranger@pve!noprivsep", "stranger@pve!privsep", FAIL),
    ("get auditor-owned token's perms from stranger-owned non-priv-sep'd token", "stranger@pve!noprivsep",
     "auditor@pam!noprivsep", FAIL),

    ("get stranger-owned priv-sep'd token's perms without passing the token", "stranger@pve!privsep",
     None, STRANGER_PRIVSEP),
    ("get stranger-owned priv-sep'd token's perms with passing the token", "stranger@pve!privsep",
     "stranger@pve!privsep", STRANGER_PRIVSEP),
    ("get stranger's perms from stranger-owned priv-sep'd token", "stranger@pve!privsep", "stranger@pve",
     FAIL),
    ("get stranger-owned non-priv-sep'd token's perms from stranger-owned priv-sep'd token",
     "stranger@pve!privsep", "stranger@pve!noprivsep", FAIL),
    ("get auditor-owned token's perms from stranger-owned priv-sep'd token", "stranger@pve!privsep",
     "auditor@pam!noprivsep", FAIL),

    ("get auditor's perms without passing the user's userid", "auditor@pam", None, AUDITOR),
    ("get auditor's perms with passing the user's userid", "auditor@pam", "auditor@pam", AUDITOR),
    ("get auditor-owned non-priv-sep'd token's perms from auditor user", "auditor@pam",
     "auditor@pam!noprivsep", AUDITOR),
    ("get auditor-owned priv-sep'd token's perms from auditor user", "auditor@pam", "auditor@pam!privsep",
     AUDITOR_PRIVSEP),
    ("get stranger's perms from auditor user", "auditor@pam", "stranger@pve", STRANGER),
    ("get stranger-owned token's perms from auditor user", "auditor@pam", "stranger@pve!noprivsep",
     STRANGER),

    ("get auditor-owned non-priv-sep'd token's perms without passing the token", "auditor@pam!noprivsep",
     None, AUDITOR),
    ("get auditor-owned non-priv-sep'd token's perms with passing the token", "auditor@pam!noprivsep",
     "auditor@pam!noprivsep", AUDITOR),
    ("get auditor's perms from auditor-owned non-priv-sep'd token", "auditor@pam!noprivsep", "auditor@pam",
     AUDITOR),
    ("get auditor-owned priv-sep'd token's perms from auditor-owned non-priv-sep'd token",
     "auditor@pam!noprivsep", "auditor@pam!privsep", AUDITOR_PRIVSEP),
    ("get stranger-owned token's perms from auditor-owned non-priv-sep'd token", "auditor@pam!noprivsep",
     "stranger@pve!noprivsep", STRANGER),

    ("get auditor-owned priv-sep'd token's perms without passing the token", "auditor@pam!privsep", None,
     AUDITOR_PRIVSEP),
    ("get auditor-owned priv-sep'd token's perms with passing the token", "auditor@pam!privsep",
     "auditor@pam!privsep", AUDITOR_PRIVSEP),
    ("get auditor's perms from auditor-owned priv-sep'd token", "auditor@pam!privsep", "auditor@pam", FAIL),
    ("get auditor-owned non-priv-sep'd token's perms from auditor-owned priv-sep'd token",
     "auditor@pam!privsep", "auditor@pam!noprivsep", FAIL),
    ("get stranger-owned token's perms from auditor-owned priv-sep'd token", "auditor@pam!privsep",
     "stranger@pve!noprivsep", FAIL),
]


@case
def api_get_permissions_test(n):
    tokens = make_fixture(n)
    expect(len(CASES) == 32, len(CASES))
    failed = []
    for desc, rpcuser, userid, want in CASES:
        params = {"userid": userid} if userid else None
        if "!" in rpcuser:
            r = n.request("GET", "/access/permissions", params, ticket="", token=tokens[rpcuser])
        else:
            r = n.request("GET", "/access/permissions", params, ticket=sign_ticket(n, rpcuser))
        if want == FAIL:
            if r.status != 403:
                failed.append(f"should fail: {desc}: {r}")
        elif r.status != 200 or r.data != want:
            failed.append(f"{desc}: {r.status} {r.data}, want {want}")
    expect(not failed, "; ".join(failed))


@case
def propagate_pools_and_disabled(n):
    """Proxmox's map: 0 for what only a non-propagating ACL or a pool gives; the guests and storages
    of a pool in the whole tree; disabled and expired users still listed; "" is no path."""
    for user, extra in (("pp@pve", {}), ("on@pve", {}), ("off@pve", {"enable": 0}),
                        ("old@pve", {"expire": 1000})):
        ok(n.post("/access/users", dict(extra, userid=user)), user)
    ok(n.post("/pools", {"poolid": "pl"}), "pool")
    os.makedirs(n.path(f"etc/pve/nodes/{n.name}/qemu-server"), exist_ok=True)
    with open(n.path(f"etc/pve/nodes/{n.name}/qemu-server/777.conf"), "w") as f:
        f.write("memory: 512\n")
    ok(put(n, "/pools/pl", {"vms": "777", "storage": "local"}), "pool members")
    ok(put(n, "/access/acl", {"path": "/pool/pl", "roles": "PVEVMUser", "users": "pp@pve"}), "pool acl")
    ok(put(n, "/access/acl", {"path": "/nodes", "roles": "PVEAuditor", "users": "pp@pve",
                              "propagate": 0}), "node acl")
    ok(put(n, "/access/acl", {"path": "/vms", "roles": "PVEAuditor", "users": "on@pve,off@pve,old@pve"}),
       "acl")

    r = ok(n.get("/access/permissions", {"userid": "pp@pve"}), "tree")
    tree = r.data
    expect(set(tree) == {"/nodes", "/pool/pl", "/vms/777", "/storage/local"}, sorted(tree))
    expect(tree["/nodes"].get("Sys.Audit") == 0, tree["/nodes"])
    expect(tree["/pool/pl"].get("VM.PowerMgmt") == 1, tree["/pool/pl"])
    expect(tree["/vms/777"].get("VM.PowerMgmt") == 0 and tree["/vms/777"].get("VM.Audit") == 0,
           tree["/vms/777"])
    r = ok(n.get("/access/permissions", {"userid": "pp@pve", "path": "/vms/777"}), "one path")
    expect(r.data == {"/vms/777": tree["/vms/777"]}, r.data)
    r = ok(n.get("/access/permissions", {"userid": "pp@pve", "path": "/vms/778"}), "nothing there")
    expect(r.data == {"/vms/778": {}}, r.data)
    r = ok(n.get("/access/permissions", {"userid": "pp@pve", "path": ""}), "empty path")
    expect(r.data == tree, r.data)

    enabled = ok(n.get("/access/permissions", {"userid": "on@pve"}), "on@pve").data
    expect(enabled["/vms"].get("VM.Audit") == 1 and "/vms/777" in enabled, enabled)
    for user in ("off@pve", "old@pve"):
        r = ok(n.get("/access/permissions", {"userid": user}), user)
        expect(r.data == enabled, (user, r.data))
        # their logins and checks stay refused
        r = n.get(f"/nodes/{n.name}/status", ticket=sign_ticket(n, user))
        expect(r.status == 401, (user, r))


def main():
    if os.geteuid() != 0:
        print("skip integration-access-suite: needs root")
        return 0
    with Node() as n:
        n.login()
        return run(n)


if __name__ == "__main__":
    sys.exit(main())
