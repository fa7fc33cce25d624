"""The errors of /access, /pools and /storage carry Proxmox's status and text, as clients written for
Proxmox match them (Telmate's Go client compares the message; proxmoxer drops "errors"): a change that
fails under a config lock is a 500 "create user failed: user 'x@pve' already exists" (Proxmox's
lock_user_config errmsg and the die text), a lookup outside a lock a plain 500 "group 'g' does not
exist", and a parameter error a 400 "Parameter verification failed." with Proxmox's `errors` object.
Each string below is the one Proxmox's own code dies with (API2/User.pm, Group.pm, Role.pm, ACL.pm,
Domains.pm, pve-manager's Pool.pm, pve-storage's Config.pm). Needs root."""

import json
import os
import sys
import urllib.parse

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from pvetest import case, expect, node_main  # noqa: E402


def plain(r, status, text):
    """Proxmox's answer to a plain die: the text as reason phrase and as "message" (with its newline)."""
    expect(r.status == status and r.reason == text, f"want {status} {text!r}, got {r!r}")
    body = json.loads(r.body)
    expect(body.get("message") == text + "\n" and body.get("data") is None, r.body)
    expect("errors" not in body, r.body)


def param(r, errors):
    expect(r.status == 400 and r.reason == "Parameter verification failed.", r)
    body = json.loads(r.body)
    expect(body.get("errors") == errors, r.body)


def q(s):
    return urllib.parse.quote(s, safe="")


@case
def users(n):
    expect(n.post("/access/users", {"userid": "dup@pve"}).status == 200, "create")
    plain(n.post("/access/users", {"userid": "dup@pve"}), 500,
          "create user failed: user 'dup@pve' already exists")
    plain(n.post("/access/users", {"userid": "g@pve", "groups": "nogroup"}), 500,
          "create user failed: no such group 'nogroup'")
    expect(n.post("/access/domains", {"realm": "ld", "type": "ldap", "server1": "127.0.0.1",
                                      "base_dn": "dc=x", "user_attr": "uid"}).status == 200, "ldap")
    plain(n.post("/access/users", {"userid": "x@ld", "password": "12345678"}), 500,
          "create user failed: can't set password on auth type 'ldap'")
    plain(n.request("PUT", "/access/password", {"userid": "none@pve", "password": "12345678",
                                                "confirmation-password": n.admin_password}),
          500, "no such user ('none@pve')")
    plain(n.get("/access/users/" + q("none@pve")), 500, "no such user ('none@pve')")
    plain(n.request("PUT", "/access/users/" + q("none@pve"), {"comment": "x"}), 500,
          "update user failed: no such user ('none@pve')")
    plain(n.request("PUT", "/access/users/" + q("dup@pve"), {"groups": "nogroup"}), 500,
          "update user failed: no such group 'nogroup'")
    plain(n.request("DELETE", "/access/users/" + q("none@pve")), 500,
          "no such user ('none@pve')")
    # The schema's "requires", as Proxmox's JSONSchema words it.
    r = n.request("PUT", "/access/users/" + q("dup@pve"), {"append": 1})
    expect(r.status == 400 and "groups" in json.loads(r.body)["errors"], r)


@case
def tokens(n):
    n.post("/access/users", {"userid": "tok@pve"})
    base = "/access/users/" + q("tok@pve") + "/token/"
    expect(n.post(base + "t1").status == 200, "token create")
    param(n.post(base + "t1"), {"tokenid": "Token already exists."})
    plain(n.get(base + "none"), 500, "no such token 'none' for user 'tok@pve'")
    plain(n.request("DELETE", base + "none"), 500, "no such token 'none' for user 'tok@pve'")
    plain(n.request("PUT", base + "none", {"comment": "x"}), 500,
          "no such token 'none' for user 'tok@pve'")
    r = n.request("PUT", base + "t1", {"comment": "c"})
    expect(r.status == 200 and r.data.get("comment") == "c", r)
    r = n.request("PUT", base + "t1", {"delete": "comment"})
    expect(r.status == 200 and "comment" not in r.data, r)


@case
def groups(n):
    expect(n.post("/access/groups", {"groupid": "g1"}).status == 200, "create")
    plain(n.post("/access/groups", {"groupid": "g1"}), 500,
          "create group failed: group 'g1' already exists")
    plain(n.get("/access/groups/nog"), 500, "group 'nog' does not exist")
    plain(n.request("PUT", "/access/groups/nog", {"comment": "x"}), 500,
          "update group failed: group 'nog' does not exist")
    plain(n.request("DELETE", "/access/groups/nog"), 500,
          "delete group failed: group 'nog' does not exist")


@case
def roles(n):
    expect(n.post("/access/roles", {"roleid": "r1", "privs": "VM.Audit"}).status == 200, "create")
    plain(n.post("/access/roles", {"roleid": "r1"}), 500,
          "create role failed: role 'r1' already exists")
    param(n.post("/access/roles", {"roleid": "PVEmine"}),
          {"roleid": "cannot use role ID starting with the (case-insensitive) 'PVE' namespace"})
    plain(n.get("/access/roles/nor"), 500, "role 'nor' does not exist")
    plain(n.request("PUT", "/access/roles/nor", {"privs": "VM.Audit"}), 500,
          "update role failed: role 'nor' does not exist")
    plain(n.request("PUT", "/access/roles/Administrator", {"privs": "VM.Audit"}), 500,
          "auto-generated role 'Administrator' cannot be modified")
    plain(n.request("DELETE", "/access/roles/PVEAuditor"), 500,
          "auto-generated role 'PVEAuditor' cannot be deleted")
    plain(n.request("DELETE", "/access/roles/nor"), 500,
          "delete role failed: role 'nor' does not exist")


@case
def acl(n):
    want = "either 'users', 'groups' or 'tokens' is required."
    param(n.request("PUT", "/access/acl", {"path": "/", "roles": "PVEAuditor"}),
          {"users": want, "groups": want, "tokens": want})
    plain(n.request("PUT", "/access/acl", {"path": "/", "roles": "nosuch",
                                           "users": "admin@pve"}), 500,
          "ACL update failed: role 'nosuch' does not exist")
    plain(n.request("PUT", "/access/acl", {"path": "/", "roles": "PVEAuditor",
                                           "users": "ghost@pve"}), 500,
          "ACL update failed: user 'ghost@pve' does not exist")
    plain(n.request("PUT", "/access/acl", {"path": "/", "roles": "PVEAuditor",
                                           "groups": "ghosts"}), 500,
          "ACL update failed: group 'ghosts' does not exist")
    param(n.request("PUT", "/access/acl", {"path": "/nonsense/x", "roles": "PVEAuditor",
                                           "users": "admin@pve"}),
          {"path": "invalid ACL path '/nonsense/x'"})


@case
def realms(n):
    plain(n.get("/access/domains/nodom"), 500, "domain 'nodom' does not exist")
    plain(n.request("PUT", "/access/domains/nodom", {"comment": "x"}), 500,
          "update auth server failed: domain 'nodom' does not exist")
    plain(n.request("DELETE", "/access/domains/nodom"), 500,
          "delete auth server failed: authentication domain 'nodom' does not exist")
    plain(n.post("/access/domains", {"realm": "pve", "type": "ldap", "server1": "localhost",
                                     "base_dn": "dc=x", "user_attr": "uid"}), 500,
          "add auth server failed: domain 'pve' already exists")
    # check-connection: only for ldap and ad, and a server that does not answer adds no realm.
    plain(n.request("PUT", "/access/domains/pve", {"comment": "x", "check-connection": 1}), 500,
          "update auth server failed: 'check-connection' parameter can only be set for realms of "
          "type 'ldap' or 'ad'")
    r = n.post("/access/domains", {"realm": "deadldap", "type": "ldap", "server1": "127.0.0.1",
                                   "port": 1, "base_dn": "dc=x", "user_attr": "uid",
                                   "check-connection": 1})
    expect(r.status == 500 and r.reason.startswith("add auth server failed: "), r)
    expect(n.get("/access/domains/deadldap").status == 500, "realm added without a server")
    r = n.post("/access/domains", {"realm": "lateldap", "type": "ldap", "server1": "127.0.0.1",
                                   "port": 1, "base_dn": "dc=x", "user_attr": "uid"})
    expect(r.status == 200, r)


@case
def pools(n):
    expect(n.post("/pools", {"poolid": "p1"}).status == 200, "create")
    plain(n.post("/pools", {"poolid": "p1"}), 500, "create pool failed: pool 'p1' already exists")
    plain(n.post("/pools", {"poolid": "nop/child"}), 500,
          "create pool failed: parent 'nop' of pool 'nop/child' does not exist")
    plain(n.get("/pools/nop"), 500, "pool 'nop' does not exist")
    plain(n.request("PUT", "/pools", {"poolid": "nop", "comment": "x"}), 500,
          "update pools failed: pool 'nop' does not exist")
    plain(n.request("DELETE", "/pools", {"poolid": "nop"}), 500,
          "delete pool failed: pool 'nop' does not exist")
    n.request("PUT", "/pools", {"poolid": "p1", "storage": "local"})
    plain(n.request("PUT", "/pools", {"poolid": "p1", "storage": "local"}), 500,
          "update pools failed: Storage 'local' is already a pool member")
    plain(n.request("DELETE", "/pools", {"poolid": "p1"}), 500,
          "delete pool failed: pool 'p1' is not empty (contains storage 'local')")


@case
def storage(n):
    plain(n.get("/storage/nostore"), 500, "storage 'nostore' does not exist")
    plain(n.request("PUT", "/storage/nostore", {"content": "iso"}), 500,
          "update storage failed: storage 'nostore' does not exist")
    plain(n.request("DELETE", "/storage/nostore"), 500,
          "delete storage failed: storage 'nostore' does not exist")
    plain(n.post("/storage", {"storage": "local", "type": "dir", "path": "/tmp"}), 500,
          "create storage failed: storage ID 'local' already defined")
    # The node's storage calls: Proxmox's storage_check_enabled dies.
    plain(n.get(f"/nodes/{n.name}/storage/nostore/content"), 500,
          "storage 'nostore' does not exist")
    path = n.path("srv/offstore")
    os.makedirs(path, exist_ok=True)
    expect(n.post("/storage", {"storage": "offstore", "type": "dir", "path": path,
                               "disable": 1}).status == 200, "disabled storage")
    plain(n.get(f"/nodes/{n.name}/storage/offstore/content"), 500,
          "storage 'offstore' is disabled")
    expect(n.post("/storage", {"storage": "elsewhere", "type": "dir", "path": path,
                               "nodes": "othernode"}).status == 200, "storage of another node")
    plain(n.get(f"/nodes/{n.name}/storage/elsewhere/content"), 500,
          f"storage 'elsewhere' is not available on node '{n.name}'")


if __name__ == "__main__":
    sys.exit(node_main())
