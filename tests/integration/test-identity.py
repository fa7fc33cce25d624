"""Identities are compared whole: a property test over the route table (from `pved --schema`, so a route
added later is covered without listing it here). For every route whose permission check names the
userid parameter, and every route under .../token, a caller whose identity differs from the target
only after a '!' or an '@' is refused:

  alice@pve!tk (privsep=1) and alice@pve!fk (privsep=0) on alice@pve: a token is not its user;
  alice@pve on alice@pvx and alice@pvx on alice@pve: another realm is another user;
  a userid with a '!' in it ("alice@pve!x@pve", or a token id) is no userid at all: 400 on userid.

These callers hold no privilege anywhere, so only "self" could let them in. Tokens that do hold every
privilege (of an Administrator, privsep=0, and a privsep=1 token with its own Administrator ACL) are
refused every write under .../token and every route closed to tokens. Nothing of it changes a file.
As a control, where being oneself is enough the user itself is not refused by the permission check.
Needs root and openssl."""

import base64
import hashlib
import hmac
import json
import os
import subprocess
import sys
import time
import urllib.parse

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from pvetest import BIN, Node, case, expect, run  # noqa: E402

PASSWORD = "identity-pw-1"
FILES = ("etc/pve/user.cfg", "etc/pve/priv/shadow.cfg", "etc/pve/priv/token.cfg",
         "etc/pve/priv/tfa.cfg")


def schema_routes():
    out = subprocess.run([os.path.join(BIN, "pved"), "--schema"], check=True, capture_output=True,
                         text=True).stdout
    routes = []

    def walk(nodes):
        for node in nodes:
            for method, info in node.get("info", {}).items():
                routes.append((method, node["path"], info))
            walk(node.get("children", []))
    walk(json.loads(out))
    return routes


def about_identity(path, info):
    check = json.dumps(info.get("permissions", {}).get("check"))
    return "userid-param" in check or "userid-group" in check or "/token" in path


def self_suffices(e):
    if not isinstance(e, list) or not e:
        return False
    if e[0] == "userid-param":
        return e[1:] == ["self"]
    return e[0] == "or" and any(self_suffices(x) for x in e[1:])


def sign_ticket(n, userid):
    plain = f"PVE:{userid}:{int(time.time()):08X}"
    sig = subprocess.run(["openssl", "dgst", "-sha256", "-sign", n.path("etc/pve/priv/authkey.key")],
                         input=plain.encode(), check=True, capture_output=True).stdout
    return plain + "::" + base64.b64encode(sig).decode()


def csrf_for(n, userid):
    """Proxmox's CSRF token: the time and an HMAC-SHA256 of "<time>:<userid>" with pve-www.key."""
    with open(n.path("etc/pve/pve-www.key")) as f:
        secret = f.read().split("\n")[0].encode()
    when = f"{int(time.time()):08X}"
    mac = hmac.new(secret, f"{when}:{userid}".encode(), hashlib.sha256).digest()
    return when + ":" + base64.b64encode(mac).decode().rstrip("=")


def params_for(n, method, path, info, target, password):
    """A valid request for the route: placeholders and required parameters from its schema, the
    target in userid, the caller's own password wherever a password is asked for."""
    props = info.get("parameters", {}).get("properties", {})
    fixed = {"userid": target, "tokenid": "tk", "id": "recovery", "node": n.name,
             "password": password, "confirmation-password": password}
    out = {}
    for name, sch in props.items():
        placeholder = "{" + name + "}" in path
        if sch.get("optional") and not placeholder and name not in ("password",
                                                                     "confirmation-password"):
            continue
        if name in fixed:
            out[name] = fixed[name]
        elif "enum" in sch:
            out[name] = sch["enum"][0]
        elif sch.get("type") in ("integer", "number"):
            out[name] = sch.get("minimum", 0)
        elif sch.get("type") == "boolean":
            out[name] = 0
        else:
            out[name] = "x" * max(sch.get("minLength", 0), 8)
    url = path
    for name in list(out):
        if "{" + name + "}" in url:
            url = url.replace("{" + name + "}", urllib.parse.quote(str(out.pop(name)), safe=""))
    return url, out


def call(n, caller, method, url, params):
    kind, cred = caller
    if kind == "token":
        return n.request(method, url, params, ticket="", token=cred)
    return n.request(method, url, params, ticket=cred["ticket"], csrf=cred["csrf"])


def snapshot(n):
    out = {}
    for rel in FILES:
        try:
            with open(n.path(rel)) as f:
                out[rel] = f.read()
        except FileNotFoundError:
            out[rel] = None
    return out


def setup(n):
    n.login()
    r = n.post("/access/domains", {"realm": "pvx", "type": "ldap", "server1": "127.0.0.1",
                                   "base_dn": "dc=example,dc=org", "user_attr": "uid"})
    expect(r.status == 200, r)
    callers = {}
    for userid in ("alice@pve", "alice@pvx", "boss@pve"):
        params = {"userid": userid}
        if userid.endswith("@pve"):
            params["password"] = PASSWORD
        r = n.post("/access/users", params)
        expect(r.status == 200, r)
    r = n.request("PUT", "/access/acl", {"path": "/", "roles": "Administrator",
                                         "users": "boss@pve"})
    expect(r.status == 200, r)
    for userid in ("alice@pve", "alice@pvx"):
        # alice@pvx has no directory behind it: a ticket signed with the node's key stands for a
        # login. Both with the CSRF token pved would hand out.
        callers[userid] = ("ticket", {"ticket": sign_ticket(n, userid), "csrf": csrf_for(n, userid)})
        r = call(n, callers[userid], "GET", "/access/permissions", None)
        expect(r.status == 200 and r.data == {}, (userid, r))
    for owner, name, privsep in (("alice@pve", "tk", 1), ("alice@pve", "fk", 0),
                                 ("boss@pve", "full", 0), ("boss@pve", "sep", 1)):
        r = n.post(f"/access/users/{owner}/token/{name}", {"privsep": privsep})
        expect(r.status == 200, r)
        callers[f"{owner}!{name}"] = ("token", f"{r.data['full-tokenid']}={r.data['value']}")
    r = n.request("PUT", "/access/acl", {"path": "/", "roles": "Administrator",
                                         "tokens": "boss@pve!sep"})
    expect(r.status == 200, r)
    return callers


@case
def identities_are_whole(n):
    callers = setup(n)
    routes = [(m, p, i) for m, p, i in schema_routes() if about_identity(p, i)]
    # The table has them (tokens, password, tfa, users): the property is not vacuous.
    expect(len(routes) >= 15, [f"{m} {p}" for m, p, _ in routes])
    near = [("alice@pve!tk", "alice@pve"), ("alice@pve!fk", "alice@pve"),
            ("alice@pve", "alice@pvx"), ("alice@pvx", "alice@pve")]
    invalid = [("alice@pve", "alice@pve!x@pve"), ("alice@pve", "alice@pve!tk"),
               ("alice@pve!tk", "alice@pve!tk")]
    before = snapshot(n)
    wrong = []
    count = 0
    for method, path, info in routes:
        props = info.get("parameters", {}).get("properties", {})
        closed_to_tokens = info.get("allowtoken", 1) == 0
        for caller, target in near:
            url, params = params_for(n, method, path, info, target, PASSWORD)
            r = call(n, callers[caller], method, url, params)
            count += 1
            token = callers[caller][0] == "token"
            want = {401} if token and closed_to_tokens else {403}
            if r.status not in want:
                wrong.append(f"{method} {path}: {caller} on {target}: {r.status} {r.reason!r}, "
                             f"want {sorted(want)}")
        if "userid" in props:
            for caller, target in invalid:
                url, params = params_for(n, method, path, info, target, PASSWORD)
                r = call(n, callers[caller], method, url, params)
                count += 1
                token = callers[caller][0] == "token"
                if token and closed_to_tokens:
                    ok = r.status == 401
                else:
                    ok = r.status == 400 and "userid" in ((r.json or {}).get("errors") or {})
                if not ok:
                    wrong.append(f"{method} {path}: {caller} on {target}: {r.status} {r.body[:200]}")
        if method != "GET" and ("/token" in path or closed_to_tokens):
            # Tokens holding every privilege, on their own user: refused all the same.
            for caller in ("boss@pve!full", "boss@pve!sep"):
                url, params = params_for(n, method, path, info, "boss@pve", PASSWORD)
                r = call(n, callers[caller], method, url, params)
                count += 1
                if r.status not in (401, 403):
                    wrong.append(f"{method} {path}: {caller} on boss@pve: {r.status} "
                                 f"{r.reason!r}, want 401 or 403")
    for w in wrong:
        print(f"# {w}", flush=True)
    expect(not wrong, f"{len(wrong)} of {count} requests not refused as they should be")
    after = snapshot(n)
    for rel in FILES:
        expect(after[rel] == before[rel], f"{rel} changed by refused requests")

    # The control: where being oneself is enough, the user itself passes the permission check.
    for method, path, info in routes:
        if not self_suffices(info.get("permissions", {}).get("check")):
            continue
        url, params = params_for(n, method, path, info, "alice@pve", PASSWORD)
        r = call(n, callers["alice@pve"], method, url, params)
        expect(not (r.status == 403 and r.reason.startswith("Permission check failed")),
               (method, path, r))
    print(f"# {count} refused requests over {len(routes)} routes", flush=True)


def main():
    if os.geteuid() != 0:
        print("skip all: needs root")
        return 0
    with Node() as n:
        return run(n)


if __name__ == "__main__":
    sys.exit(main())
